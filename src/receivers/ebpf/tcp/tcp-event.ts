// Layout of struct sonde_tcp_event (bpf/tcp.h) and its fixed-offset decoder. The decoder fills
// one reusable TcpEvent: no allocation per record. Addresses and comm stay in the ring; readers
// that need them use `view` and the *_OFFSET constants while handling the record.
import { checkHeader, sizeTable, type RejectReason } from '../libbpf/event-header.js';

export const TCP_EVENT = { CONNECT: 1, ACCEPT: 2, CLOSE: 3, RETRANSMIT: 4 } as const;
export const TCP_EVENT_SIZE = 136;
export const TCP_DIRECTION = { OUTBOUND: 1, INBOUND: 2 } as const;
export const TCP_OUTCOMES = ['success', 'refused', 'timeout', 'reset', 'unreachable', 'error'] as const;
export type TcpOutcome = (typeof TCP_OUTCOMES)[number];
export const AF_INET = 2;
export const AF_INET6 = 10;

/**
 * Lost-event slots of tcp.bpf.c, in slot order (bpf/tcp.h SONDE_TCP_SLOT_*): ring full per
 * program, then `tcp_state_evicted` (a connect outcome with no socket state: LRU eviction past
 * tcp.max_connections, or a connect older than Sonde).
 */
export const TCP_LOST_SLOTS = ['tcp_state', 'tcp_accept', 'tcp_retransmit', 'tcp_state_evicted'] as const;

/**
 * Runs of each TCP program the kernel skipped (the program's recursion_misses): each may have
 * carried one event. Reported as sonde_ebpf_events_lost_total{program="<name>_missed"}.
 */
export const TCP_MISSED_PROGRAMS = ['tcp_state', 'tcp_accept', 'tcp_retransmit'] as const;

export const OFF = {
  sockId: 16,
  cgroupId: 24,
  durationNs: 32,
  bytesSent: 40,
  bytesReceived: 48,
  pid: 56,
  tid: 60,
  netns: 64,
  localPort: 68,
  remotePort: 70,
  family: 72,
  direction: 74,
  outcome: 75,
  error: 76,
  localAddr: 80,
  remoteAddr: 96,
  comm: 112,
  retransmits: 128,
  state: 132,
} as const;

const SIZES = sizeTable([
  [TCP_EVENT.CONNECT, TCP_EVENT_SIZE],
  [TCP_EVENT.ACCEPT, TCP_EVENT_SIZE],
  [TCP_EVENT.CLOSE, TCP_EVENT_SIZE],
  [TCP_EVENT.RETRANSMIT, TCP_EVENT_SIZE],
]);

/** One decoded record. Valid only while its record is being handled (the view is the ring). */
export interface TcpEvent {
  type: number;
  view: DataView;
  /** Offset of the record in `view`. */
  offset: number;
  timestampNs: number;
  cgroupId: number;
  durationNs: number;
  bytesSent: number;
  bytesReceived: number;
  pid: number;
  tid: number;
  netns: number;
  localPort: number;
  remotePort: number;
  family: number;
  direction: number;
  outcome: number;
  error: number;
  retransmits: number;
  state: number;
}

export function createTcpEvent(): TcpEvent {
  return {
    type: 0, view: new DataView(new ArrayBuffer(0)), offset: 0, timestampNs: 0, cgroupId: 0, durationNs: 0,
    bytesSent: 0, bytesReceived: 0, pid: 0, tid: 0, netns: 0, localPort: 0, remotePort: 0, family: 0,
    direction: 0, outcome: 0, error: 0, retransmits: 0, state: 0,
  };
}

/** u64 as a JS number without a BigInt (exact below 2^53). */
function u64(view: DataView, at: number): number {
  return view.getUint32(at, true) + view.getUint32(at + 4, true) * 4294967296;
}

/**
 * Decodes the record at `offset` into `out`. Returns null on success, or why the record was
 * refused (wrong magic, unknown schema version or type, wrong size, bad field values).
 */
export function decodeTcpEvent(view: DataView, offset: number, length: number, out: TcpEvent): RejectReason | 'field' | null {
  const type = checkHeader(view, offset, length, SIZES);
  if (typeof type !== 'number') return type;
  const family = view.getUint16(offset + OFF.family, true);
  if (family !== AF_INET && family !== AF_INET6) return 'field';
  const direction = view.getUint8(offset + OFF.direction);
  if (direction > TCP_DIRECTION.INBOUND || (direction === 0 && type !== TCP_EVENT.RETRANSMIT)) return 'field';
  const outcome = view.getUint8(offset + OFF.outcome);
  if (outcome >= TCP_OUTCOMES.length) return 'field';
  out.type = type;
  out.view = view;
  out.offset = offset;
  out.timestampNs = u64(view, offset + 8);
  out.cgroupId = u64(view, offset + OFF.cgroupId);
  out.durationNs = u64(view, offset + OFF.durationNs);
  out.bytesSent = u64(view, offset + OFF.bytesSent);
  out.bytesReceived = u64(view, offset + OFF.bytesReceived);
  out.pid = view.getUint32(offset + OFF.pid, true);
  out.tid = view.getUint32(offset + OFF.tid, true);
  out.netns = view.getUint32(offset + OFF.netns, true);
  out.localPort = view.getUint16(offset + OFF.localPort, true);
  out.remotePort = view.getUint16(offset + OFF.remotePort, true);
  out.family = family;
  out.direction = direction;
  out.outcome = outcome;
  out.error = view.getInt32(offset + OFF.error, true);
  out.retransmits = view.getUint32(offset + OFF.retransmits, true);
  out.state = view.getUint32(offset + OFF.state, true);
  return null;
}

/** The comm (NUL-terminated, at most 16 bytes) as a string. Allocates: call only on a cache miss. */
export function readComm(view: DataView, offset: number): string {
  let s = '';
  for (let i = 0; i < 16; i++) {
    const c = view.getUint8(offset + OFF.comm + i);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

/** Whether a 16-byte IPv6 address is IPv4-mapped (::ffff:a.b.c.d). */
export function isV4Mapped(view: DataView, at: number): boolean {
  return view.getUint32(at, true) === 0 && view.getUint32(at + 4, true) === 0 && view.getUint32(at + 8, false) === 0x0000ffff;
}

/** Formats an address from the record. Allocates: call only on a cache miss. */
export function formatAddress(view: DataView, at: number, family: number): string {
  if (family === AF_INET) return `${view.getUint8(at)}.${view.getUint8(at + 1)}.${view.getUint8(at + 2)}.${view.getUint8(at + 3)}`;
  if (isV4Mapped(view, at)) return formatAddress(view, at + 12, AF_INET);
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(view.getUint16(at + i * 2, false).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  const head = groups.slice(0, bestStart).join(':');
  const tail = groups.slice(bestStart + bestLen).join(':');
  return `${head}::${tail}`;
}
