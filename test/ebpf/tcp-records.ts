// Builds sonde_tcp_event records by hand (bpf/tcp.h layout) for decoder and aggregator tests.
import { OFF, TCP_EVENT_SIZE } from '../../src/receivers/ebpf/tcp/tcp-event.js';

export interface RecordFields {
  type: number;
  pid?: number;
  comm?: string;
  family?: 2 | 10;
  direction?: 1 | 2;
  outcome?: number;
  localAddr?: number[];
  remoteAddr?: number[];
  localPort?: number;
  remotePort?: number;
  durationNs?: number;
  bytesSent?: number;
  bytesReceived?: number;
  version?: number;
  magic?: number;
  size?: number;
}

export function buildRecord(f: RecordFields, into?: DataView, at = 0): DataView {
  const view = into ?? new DataView(new ArrayBuffer(TCP_EVENT_SIZE));
  view.setUint16(at + 0, f.magic ?? 0x53de, true);
  view.setUint8(at + 2, f.version ?? 1);
  view.setUint8(at + 3, f.type);
  view.setUint16(at + 4, f.size ?? TCP_EVENT_SIZE, true);
  view.setBigUint64(at + 8, 123456789n, true);
  view.setBigUint64(at + OFF.durationNs, BigInt(f.durationNs ?? 0), true);
  view.setBigUint64(at + OFF.bytesSent, BigInt(f.bytesSent ?? 0), true);
  view.setBigUint64(at + OFF.bytesReceived, BigInt(f.bytesReceived ?? 0), true);
  view.setUint32(at + OFF.pid, f.pid ?? 4242, true);
  view.setUint32(at + OFF.tid, f.pid ?? 4242, true);
  view.setUint16(at + OFF.localPort, f.localPort ?? 50000, true);
  view.setUint16(at + OFF.remotePort, f.remotePort ?? 80, true);
  view.setUint16(at + OFF.family, f.family ?? 2, true);
  view.setUint8(at + OFF.direction, f.direction ?? 1);
  view.setUint8(at + OFF.outcome, f.outcome ?? 0);
  const local = f.localAddr ?? [127, 0, 0, 1];
  const remote = f.remoteAddr ?? [10, 0, 0, 7];
  for (let i = 0; i < 16; i++) {
    view.setUint8(at + OFF.localAddr + i, local[i] ?? 0);
    view.setUint8(at + OFF.remoteAddr + i, remote[i] ?? 0);
  }
  const comm = Buffer.from(f.comm ?? 'curl');
  for (let i = 0; i < 16; i++) view.setUint8(at + OFF.comm + i, i < comm.length ? comm[i]! : 0);
  return view;
}
