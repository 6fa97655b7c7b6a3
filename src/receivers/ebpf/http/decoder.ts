// Decodes one HTTP exchange record (bpf/http.h `struct http_event`) at fixed offsets.
// Never throws: a record that is not understood yields a reason, which the caller counts.

import * as L from './event-layout.js';
import { parseRequestHead, type RequestHead } from './request-head.js';

export type DecodeFailure =
  | 'short_record'
  | 'bad_magic'
  | 'unknown_version'
  | 'unknown_type'
  | 'bad_size'
  | 'bad_role'
  | 'bad_family'
  | 'bad_times'
  | 'bad_request_line';

export interface HttpExchange {
  role: typeof L.ROLE_SERVER | typeof L.ROLE_CLIENT;
  status: number;
  /** CLOCK_MONOTONIC nanoseconds, as the kernel stamped them. */
  startNs: bigint;
  endNs: bigint;
  cgroupId: bigint;
  tgid: number;
  pid: number;
  fd: number;
  localAddress: string;
  remoteAddress: string;
  localPort: number;
  remotePort: number;
  comm: string;
  truncated: boolean;
  request: RequestHead;
}

export type DecodeResult = { ok: true; exchange: HttpExchange } | { readonly ok: false; readonly reason: DecodeFailure };

function ipv4(view: DataView, off: number): string {
  return `${view.getUint8(off)}.${view.getUint8(off + 1)}.${view.getUint8(off + 2)}.${view.getUint8(off + 3)}`;
}

/** RFC 5952 text form; IPv4-mapped addresses (::ffff:a.b.c.d) come out as plain IPv4. */
function ipv6(view: DataView, off: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(view.getUint16(off + i * 2, false));
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) return ipv4(view, off + 12);
  // longest run of zero groups (length >= 2) becomes "::"
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

function comm(view: DataView, off: number): string {
  let s = '';
  for (let i = 0; i < 16; i++) {
    const c = view.getUint8(off + i);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

// One frozen object per reason: rejecting garbage allocates nothing.
const FAIL = Object.fromEntries(
  (['short_record', 'bad_magic', 'unknown_version', 'unknown_type', 'bad_size', 'bad_role', 'bad_family', 'bad_times', 'bad_request_line'] as const).map(
    (reason) => [reason, Object.freeze({ ok: false as const, reason })],
  ),
) as { [R in DecodeFailure]: { readonly ok: false; readonly reason: R } };

const NO_HEADERS: ReadonlySet<string> = new Set();

/**
 * Decodes the record at view[offset, offset+length). `keepHeaders` are lowercase header names
 * to return (privacy: none by default). The record's memory may be reused after this returns:
 * everything kept is copied into strings here.
 */
export function decodeHttpEvent(view: DataView, offset: number, length: number, keepHeaders: ReadonlySet<string> = NO_HEADERS): DecodeResult {
  if (length < 16) return FAIL.short_record;
  if (view.getUint16(offset + L.HDR_MAGIC, true) !== L.EVENT_MAGIC) return FAIL.bad_magic;
  if (view.getUint8(offset + L.HDR_VERSION) !== L.SCHEMA_VERSION) return FAIL.unknown_version;
  if (view.getUint8(offset + L.HDR_TYPE) !== L.HTTP_EVENT_TYPE_EXCHANGE) return FAIL.unknown_type;
  // Variable length: the fixed part, then only the req_len request bytes the kernel copied.
  const size = view.getUint16(offset + L.HDR_SIZE, true);
  if (size < L.OFF_REQ || size > L.HTTP_EVENT_SIZE || length < size) return FAIL.bad_size;

  const role = view.getUint8(offset + L.OFF_ROLE);
  if (role !== L.ROLE_SERVER && role !== L.ROLE_CLIENT) return FAIL.bad_role;
  const family = view.getUint8(offset + L.OFF_FAMILY);
  if (family !== L.AF_INET && family !== L.AF_INET6) return FAIL.bad_family;
  const startNs = view.getBigUint64(offset + L.OFF_START_NS, true);
  const endNs = view.getBigUint64(offset + L.OFF_END_NS, true);
  if (startNs === 0n || endNs < startNs) return FAIL.bad_times;
  const reqLen = view.getUint16(offset + L.OFF_REQ_LEN, true);
  if (reqLen > size - L.OFF_REQ) return FAIL.bad_size;

  const reqBytes = new Uint8Array(view.buffer, view.byteOffset + offset + L.OFF_REQ, reqLen);
  const truncated = (view.getUint16(offset + L.OFF_FLAGS, true) & L.FLAG_REQ_TRUNCATED) !== 0;
  const request = parseRequestHead(reqBytes, reqLen, keepHeaders, truncated || reqLen === L.HTTP_REQ_CAP);
  if (!request) return FAIL.bad_request_line;

  const addr = family === L.AF_INET ? ipv4 : ipv6;
  return {
    ok: true,
    exchange: {
      role,
      status: view.getUint16(offset + L.OFF_STATUS, true),
      startNs,
      endNs,
      cgroupId: view.getBigUint64(offset + L.OFF_CGROUP_ID, true),
      tgid: view.getUint32(offset + L.OFF_TGID, true),
      pid: view.getUint32(offset + L.OFF_PID, true),
      fd: view.getUint32(offset + L.OFF_FD, true),
      localAddress: addr(view, offset + L.OFF_LOCAL_ADDR),
      remoteAddress: addr(view, offset + L.OFF_REMOTE_ADDR),
      localPort: view.getUint16(offset + L.OFF_LOCAL_PORT, true),
      remotePort: view.getUint16(offset + L.OFF_REMOTE_PORT, true),
      comm: comm(view, offset + L.OFF_COMM),
      truncated,
      request,
    },
  };
}
