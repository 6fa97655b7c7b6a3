// The sender's IP address, as recorded on the batches a request produces (TelemetryBatch.clientAddress).
import { isIP } from 'node:net';

/** `::ffff:10.1.2.3` (an IPv4 peer on a dual-stack socket) -> `10.1.2.3`; anything not an IP -> undefined. */
export function normalizeClientAddress(address: string | undefined): string | undefined {
  if (!address) return undefined;
  let s = address;
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const lower = s.toLowerCase();
  if (lower.startsWith('::ffff:') && isIP(s.slice(7)) === 4) return s.slice(7);
  return isIP(s) ? lower : undefined;
}

/**
 * grpc-js's call.getPeer() is `<remoteAddress>:<port>` with an unbracketed IPv6 address
 * (`::ffff:127.0.0.7:40312`, `::1:40312`); older versions wrote `ipv4:`/`ipv6:` prefixes and
 * brackets. The port is always last when there is one.
 */
export function grpcPeerAddress(peer: string): string | undefined {
  let s = peer.replace(/^ipv[46]:/, '');
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(s);
  if (bracketed) return normalizeClientAddress(bracketed[1]);
  const withPort = /^(.*):\d+$/.exec(s);
  if (withPort && isIP(withPort[1]!)) s = withPort[1]!;
  return normalizeClientAddress(s);
}
