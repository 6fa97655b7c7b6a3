// Builds `struct http_event` records by hand (bpf/http.h layout) for the decoder tests.
import * as L from '../../src/receivers/ebpf/http/event-layout.js';

export interface RecordFields {
  version?: number;
  type?: number;
  size?: number;
  magic?: number;
  role?: number;
  status?: number;
  startNs?: bigint;
  endNs?: bigint;
  tgid?: number;
  pid?: number;
  fd?: number;
  family?: number;
  local?: number[];
  remote?: number[];
  localPort?: number;
  remotePort?: number;
  comm?: string;
  request?: string;
  reqLen?: number;
  flags?: number;
}

export function buildRecord(f: RecordFields = {}): { view: DataView; offset: number; length: number } {
  const pad = 8; // records are decoded at an offset inside a larger buffer, as in the ring
  const buf = new ArrayBuffer(pad + L.HTTP_EVENT_SIZE + 8);
  const v = new DataView(buf);
  const o = pad;
  v.setUint16(o + L.HDR_MAGIC, f.magic ?? L.EVENT_MAGIC, true);
  v.setUint8(o + L.HDR_VERSION, f.version ?? L.SCHEMA_VERSION);
  v.setUint8(o + L.HDR_TYPE, f.type ?? L.HTTP_EVENT_TYPE_EXCHANGE);
  v.setUint16(o + L.HDR_SIZE, f.size ?? L.HTTP_EVENT_SIZE, true);
  v.setBigUint64(o + 8, f.endNs ?? 2_000_000n, true);
  v.setBigUint64(o + L.OFF_START_NS, f.startNs ?? 1_000_000n, true);
  v.setBigUint64(o + L.OFF_END_NS, f.endNs ?? 2_000_000n, true);
  v.setBigUint64(o + L.OFF_CGROUP_ID, 77n, true);
  v.setUint32(o + L.OFF_TGID, f.tgid ?? 4242, true);
  v.setUint32(o + L.OFF_PID, f.pid ?? 4243, true);
  v.setUint32(o + L.OFF_FD, f.fd ?? 7, true);
  v.setUint16(o + L.OFF_STATUS, f.status ?? 200, true);
  v.setUint8(o + L.OFF_ROLE, f.role ?? L.ROLE_SERVER);
  v.setUint8(o + L.OFF_FAMILY, f.family ?? L.AF_INET);
  (f.local ?? [127, 0, 0, 1]).forEach((b, i) => v.setUint8(o + L.OFF_LOCAL_ADDR + i, b));
  (f.remote ?? [127, 0, 0, 2]).forEach((b, i) => v.setUint8(o + L.OFF_REMOTE_ADDR + i, b));
  v.setUint16(o + L.OFF_LOCAL_PORT, f.localPort ?? 8080, true);
  v.setUint16(o + L.OFF_REMOTE_PORT, f.remotePort ?? 50000, true);
  const comm = Buffer.from(f.comm ?? 'nginx', 'latin1');
  comm.copy(Buffer.from(buf, o + L.OFF_COMM, 16), 0, 0, Math.min(15, comm.length));
  const req = Buffer.from(f.request ?? 'GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n', 'latin1');
  const n = Math.min(req.length, L.HTTP_REQ_CAP);
  req.copy(Buffer.from(buf, o + L.OFF_REQ, L.HTTP_REQ_CAP), 0, 0, n);
  v.setUint16(o + L.OFF_REQ_LEN, f.reqLen ?? n, true);
  v.setUint16(o + L.OFF_FLAGS, f.flags ?? 0, true);
  return { view: v, offset: o, length: L.HTTP_EVENT_SIZE };
}
