// Loads bpf/out/http.bpf.o through the libbpf layer, applies the filters, attaches the syscall
// tracepoints and feeds the ring's records to a handler. Owns nothing but kernel objects.

import { fileURLToPath } from 'node:url';
import type { Logger } from '../../../telemetry/logger.js';
import { BpfObject, CloseGroup, LostCounter, MissedRunsCounter, RingReader, ensureTracefs, type BpfProgram, type RecordHandler } from '../libbpf/index.js';
import * as L from './event-layout.js';

/** Kernel-side filters; the same meaning as the receiver's TCP filters. Empty lists: no filter. */
export interface HttpKernelFilters {
  includePorts?: readonly number[];
  excludePorts?: readonly number[];
  includeProcesses?: readonly string[];
  excludeProcesses?: readonly string[];
  includePids?: readonly number[];
  excludePids?: readonly number[];
  includeCgroupIds?: readonly bigint[];
}

export interface HttpCaptureOptions {
  handler: RecordHandler;
  logger?: Logger;
  filters?: HttpKernelFilters;
  /** Ring buffer bytes (power of two). Default 4 MiB. */
  ringSize?: number;
  /** Adaptive wakeup threshold in bytes (0: wake per record). */
  wakeupBytes?: number;
  pendingTimeoutNs?: bigint;
  /** Entries of the per-connection state map (http_conns). Default 8192. */
  maxConnections?: number;
  pollIntervalMs?: number;
  /** The process never to capture (Sonde itself). Default: this process. */
  selfPid?: number;
  /** Override the object's path (tests). */
  objectPath?: string;
}

export const HTTP_OBJECT_PATH = fileURLToPath(new URL('../../../../bpf/out/http.bpf.o', import.meta.url));

const u16 = (n: number) => new Uint8Array(new Uint16Array([n]).buffer);
const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const u64 = (n: bigint) => new Uint8Array(new BigUint64Array([n]).buffer);
const comm16 = (s: string) => {
  const b = new Uint8Array(16);
  b.set(Buffer.from(s, 'latin1').subarray(0, 15));
  return b;
};

export class HttpCapture {
  private readonly group = new CloseGroup();
  private reader: RingReader | undefined;
  private lost: LostCounter | undefined;
  private missed: MissedRunsCounter | undefined;
  private closed = false;

  constructor(private readonly options: HttpCaptureOptions) {}

  /** Opens, loads and attaches everything; throws a SondeError (SONDE_BPF_*) on failure, leaving nothing behind. */
  start(): void {
    const o = this.options;
    try {
      ensureTracefs();
      const obj = this.group.add(BpfObject.openFile(o.objectPath ?? HTTP_OBJECT_PATH, { logger: o.logger }));
      const f = o.filters ?? {};
      let flags = 0;
      const any = (a?: readonly unknown[]) => (a?.length ?? 0) > 0;
      if (any(f.includePorts)) flags |= L.FILTER_PORT_INCLUDE;
      if (any(f.includeProcesses)) flags |= L.FILTER_COMM_INCLUDE;
      if (any(f.includePids)) flags |= L.FILTER_PID_INCLUDE;
      if (any(f.includeCgroupIds)) flags |= L.FILTER_CGROUP_INCLUDE;
      if (flags !== 0 || any(f.excludePorts) || any(f.excludeProcesses) || any(f.excludePids)) flags |= L.FILTER_ACTIVE;
      obj.setRodata({
        filter_flags: flags,
        self_tgid: o.selfPid ?? process.pid,
        pending_timeout_ns: o.pendingTimeoutNs ?? 10_000_000_000n,
        sonde_wakeup_bytes: BigInt(o.wakeupBytes ?? 32768),
      });
      const ring = obj.map('http_events');
      if (o.ringSize !== undefined) ring.setMaxEntries(o.ringSize);
      if (o.maxConnections !== undefined) obj.map('http_conns').setMaxEntries(o.maxConnections);
      obj.load();

      const INCLUDE = new Uint8Array([1]);
      const EXCLUDE = new Uint8Array([2]);
      const ports = obj.map('port_filter');
      for (const p of f.excludePorts ?? []) ports.update(u16(p), EXCLUDE);
      for (const p of f.includePorts ?? []) ports.update(u16(p), INCLUDE);
      const comms = obj.map('comm_filter');
      for (const c of f.excludeProcesses ?? []) comms.update(comm16(c), EXCLUDE);
      for (const c of f.includeProcesses ?? []) comms.update(comm16(c), INCLUDE);
      const pids = obj.map('pid_filter');
      for (const p of f.excludePids ?? []) pids.update(u32(p), EXCLUDE);
      for (const p of f.includePids ?? []) pids.update(u32(p), INCLUDE);
      const cgroups = obj.map('cgroup_filter');
      for (const c of f.includeCgroupIds ?? []) cgroups.update(u64(c), INCLUDE);

      const attached: BpfProgram[] = [];
      for (const prog of obj.programs()) {
        if (!prog.autoload) continue;
        prog.attach();
        attached.push(prog);
      }
      this.missed = new MissedRunsCounter([{ label: L.HTTP_MISSED_LABEL, programs: attached }]);

      this.lost = new LostCounter(obj, L.HTTP_LOST_SLOTS);
      this.reader = this.group.add(
        new RingReader({
          mapFd: ring.fd,
          size: ring.maxEntries,
          handler: o.handler,
          ...(o.pollIntervalMs !== undefined ? { pollIntervalMs: o.pollIntervalMs } : {}),
          onHandlerError: (err) => o.logger?.warn({ err }, 'HTTP record handler failed'),
        }),
      );
      this.reader.start();
    } catch (err) {
      this.group.close();
      this.closed = true;
      throw err;
    }
  }

  /** Reads what the ring holds now (synchronously, bounded under a storm); returns the number of records. */
  drain(): number {
    let total = 0;
    if (!this.reader || this.closed) return 0;
    for (let i = 0, n = this.reader.consume(); n > 0 && i < 64; i++, n = this.reader.consume()) total += n;
    return total;
  }

  /** Reports growth of the kernel's lost-event counter, and of runs the kernel skipped. */
  collectLost(report: (program: string, delta: number) => void): void {
    if (this.closed) return;
    this.lost?.collect(report);
    this.missed?.collect(report);
  }

  get records(): number {
    return this.reader?.stats.records ?? 0;
  }

  /** Detaches and frees everything. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.group.close();
  }
}
