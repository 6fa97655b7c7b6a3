// Folds decoded TCP events into the sonde.tcp.* metrics of docs/conventions.md: cumulative sums
// and histograms, one resource per process (pid + process name). Recording allocates only
// when a new process, address or series appears; collect() builds the OTLP-shaped batch.
import { hostname } from 'node:os';
import { processResourceAttributes } from '../process-resource.js';
import { existsSync, readFileSync } from 'node:fs';
import type { Attributes, Metric, ResourceMetrics } from '../../../pdata/types.js';
import { AggregationTemporality } from '../../../pdata/types.js';
import { CumulativeHistogram } from '../cumulative-histogram.js';
import { WordInterner } from './interner.js';
import { AF_INET, OFF, TCP_DIRECTION, TCP_EVENT, TCP_OUTCOMES, formatAddress, isV4Mapped, readComm, type TcpEvent } from './tcp-event.js';

export const TCP_SCOPE = { name: 'sonde.ebpf.tcp', version: '0.1.0' };

/** Connect (handshake) durations, seconds: loopback is ~50 us, a SYN timeout minutes. */
export const CONNECT_DURATION_BOUNDS = [0, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 130];
/** Connection lifetimes, seconds. */
export const CONNECTION_DURATION_BOUNDS = [0, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600, 21600, 86400];

export const TCP_METRICS = ['sonde.tcp.connections', 'sonde.tcp.connect.duration', 'sonde.tcp.connection.duration', 'sonde.tcp.io', 'sonde.tcp.retransmits'] as const;
export type TcpMetricName = (typeof TCP_METRICS)[number];

const OVERFLOW_KEY = -1;
const OVERFLOW_ATTRS: Attributes = { 'otel.metric.overflow': true };
const NS_PER_S = 1e9;

export interface TcpAggregatorOptions {
  /** Most series per metric (over all processes); beyond it points go to an overflow series. */
  maxSeries: number;
  /** Called with the metric name each time a point lands in an overflow series. */
  onOverflow?: (metric: TcpMetricName) => void;
  /** Process names to drop in user space (the kernel's comm_filter has dropped them already). */
  excludeProcesses?: readonly string[];
  includeProcesses?: readonly string[];
  hostName?: string;
  nowUnixNs?: () => bigint;
  /** The process's name when a record carries none; default /proc/<pid>/comm. */
  processName?: (pid: number) => string | undefined;
  processAlive?: (pid: number) => boolean;
}

interface SumPoint { attrs: Attributes; start: bigint; value: number }
interface HistPoint { attrs: Attributes; start: bigint; hist: CumulativeHistogram }

interface ProcessSeries {
  pid: number;
  exe: string;
  resourceAttrs: Attributes;
  connections: Map<number, SumPoint>;
  connectDuration: Map<number, HistPoint>;
  connectionDuration: Map<number, HistPoint>;
  io: Map<number, SumPoint>;
  retransmits: Map<number, SumPoint>;
  /** Interner id of the process name this process is keyed by (-1: not interned). */
  commId: number;
  /** Updated since the last collect. */
  dirty: boolean;
  excluded: boolean;
}

function defaultProcessName(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export class TcpAggregator {
  private readonly processes = new Map<number, ProcessSeries>();
  // Ids are held by the series (and processes) that show them and freed at collection time once
  // nothing holds them. Comm ids stop at 65534: 65535 is the process key of "comm not interned".
  private readonly comms = new WordInterner(65535);
  private readonly addrs = new WordInterner(65536);
  private readonly addrNames: string[] = [];
  private readonly seriesCount: Record<TcpMetricName, number> = {
    'sonde.tcp.connections': 0,
    'sonde.tcp.connect.duration': 0,
    'sonde.tcp.connection.duration': 0,
    'sonde.tcp.io': 0,
    'sonde.tcp.retransmits': 0,
  };
  private readonly hostName: string;
  private readonly now: () => bigint;
  private readonly processName: (pid: number) => string | undefined;
  private readonly processAlive: (pid: number) => boolean;
  private readonly include: ReadonlySet<string> | undefined;
  private readonly exclude: ReadonlySet<string>;
  readonly overflowPoints: Record<TcpMetricName, number> = {
    'sonde.tcp.connections': 0,
    'sonde.tcp.connect.duration': 0,
    'sonde.tcp.connection.duration': 0,
    'sonde.tcp.io': 0,
    'sonde.tcp.retransmits': 0,
  };

  constructor(private readonly options: TcpAggregatorOptions) {
    this.hostName = options.hostName ?? hostname();
    this.now = options.nowUnixNs ?? (() => BigInt(Date.now()) * 1_000_000n);
    this.processName = options.processName ?? defaultProcessName;
    this.processAlive = options.processAlive ?? ((pid) => existsSync(`/proc/${pid}`));
    this.include = options.includeProcesses && options.includeProcesses.length > 0 ? new Set(options.includeProcesses) : undefined;
    this.exclude = new Set(options.excludeProcesses ?? []);
  }

  /** Records one decoded event. */
  record(ev: TcpEvent): void {
    if (ev.type === TCP_EVENT.RETRANSMIT && ev.pid === 0) {
      this.recordRetransmit(this.processFor(ev), ev);
      return;
    }
    const proc = this.processFor(ev);
    if (proc.excluded) return;
    switch (ev.type) {
      case TCP_EVENT.CONNECT: {
        const key = this.connKey(ev, true);
        this.sum(proc, proc.connections, 'sonde.tcp.connections', key, ev, true, 1);
        this.hist(proc, proc.connectDuration, 'sonde.tcp.connect.duration', CONNECT_DURATION_BOUNDS, key, ev, true, ev.durationNs / NS_PER_S);
        break;
      }
      case TCP_EVENT.ACCEPT:
        this.sum(proc, proc.connections, 'sonde.tcp.connections', this.connKey(ev, true), ev, true, 1);
        break;
      case TCP_EVENT.CLOSE: {
        this.hist(proc, proc.connectionDuration, 'sonde.tcp.connection.duration', CONNECTION_DURATION_BOUNDS, this.connKey(ev, false), ev, false, ev.durationNs / NS_PER_S);
        if (ev.bytesSent > 0) this.ioSum(proc, 0, ev.bytesSent);
        if (ev.bytesReceived > 0) this.ioSum(proc, 1, ev.bytesReceived);
        break;
      }
      case TCP_EVENT.RETRANSMIT:
        this.recordRetransmit(proc, ev);
        break;
    }
  }

  /** Every process's cumulative metrics, one ResourceMetrics each; forgets exited processes once reported. */
  collect(): ResourceMetrics[] {
    const now = this.now();
    const out: ResourceMetrics[] = [];
    for (const [key, proc] of this.processes) {
      if (proc.excluded) {
        if (!this.processAlive(proc.pid)) {
          this.comms.release(proc.commId);
          this.processes.delete(key);
        }
        continue;
      }
      const metrics: Metric[] = [];
      const sum = (name: TcpMetricName, unit: string, description: string, points: Map<number, SumPoint>): void => {
        if (points.size === 0) return;
        metrics.push({
          name, unit, description, type: 'sum', isMonotonic: true, aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPoints: [...points.values()].map((p) => ({ attributes: p.attrs, startTimeUnixNano: p.start, timeUnixNano: now, value: p.value, isInt: true })),
        });
      };
      const hist = (name: TcpMetricName, description: string, points: Map<number, HistPoint>): void => {
        if (points.size === 0) return;
        metrics.push({
          name, unit: 's', description, type: 'histogram', aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPoints: [...points.values()].map((p) => p.hist.toPoint(p.attrs, p.start, now)),
        });
      };
      sum('sonde.tcp.connections', '{connection}', 'TCP connections opened (outbound connects by outcome, inbound accepts).', proc.connections);
      hist('sonde.tcp.connect.duration', 'Outbound TCP handshake time, from SYN sent to established or failed.', proc.connectDuration);
      hist('sonde.tcp.connection.duration', 'TCP connection lifetime, from established to closed.', proc.connectionDuration);
      sum('sonde.tcp.io', 'By', 'Payload bytes of closed TCP connections, per direction (acked bytes sent, bytes received).', proc.io);
      sum('sonde.tcp.retransmits', '{segment}', 'TCP segments retransmitted.', proc.retransmits);
      if (metrics.length > 0) out.push({ resource: { attributes: proc.resourceAttrs }, scopeMetrics: [{ scope: { ...TCP_SCOPE }, metrics }] });
      if (!proc.dirty && !this.processAlive(proc.pid)) {
        this.forget(proc);
        this.processes.delete(key);
      }
      proc.dirty = false;
    }
    // Free the interner ids no live series or process holds any more (exited processes, and
    // addresses seen only in events that landed in no series).
    this.addrs.sweep();
    this.comms.sweep();
    return out;
  }

  /** Live interner ids (tests: bounded by the live series, not by the history). */
  internerSizes(): { addresses: number; comms: number } {
    return { addresses: this.addrs.size, comms: this.comms.size };
  }

  /** Processes currently tracked (tests). */
  get processCount(): number {
    return this.processes.size;
  }

  /** Distinct series per metric right now. */
  series(metric: TcpMetricName): number {
    return this.seriesCount[metric];
  }

  private forget(proc: ProcessSeries): void {
    for (const points of [proc.connections, proc.connectDuration, proc.connectionDuration] as Map<number, unknown>[])
      for (const k of points.keys()) if (k !== OVERFLOW_KEY) this.addrs.release(connKeyAddr(k));
    for (const k of proc.retransmits.keys()) if (k !== OVERFLOW_KEY) this.addrs.release(retransmitKeyAddr(k));
    this.comms.release(proc.commId);
    this.seriesCount['sonde.tcp.connections'] -= countReal(proc.connections);
    this.seriesCount['sonde.tcp.connect.duration'] -= countReal(proc.connectDuration);
    this.seriesCount['sonde.tcp.connection.duration'] -= countReal(proc.connectionDuration);
    this.seriesCount['sonde.tcp.io'] -= countReal(proc.io);
    this.seriesCount['sonde.tcp.retransmits'] -= countReal(proc.retransmits);
  }

  // Keyed by pid + the record's comm, which the kernel fills with the process's name (the
  // thread-group leader's comm, bpf/common.h sonde_process_comm), never a thread's: all threads of
  // a process share one resource, while a pid reused by another program, or an exec, starts a new one.
  private processFor(ev: TcpEvent): ProcessSeries {
    const commId = this.comms.intern(ev.view, ev.offset + OFF.comm, 4);
    const key = ev.pid * 65536 + (commId < 0 ? 65535 : commId);
    let proc = this.processes.get(key);
    if (proc === undefined) {
      const comm = readComm(ev.view, ev.offset);
      // The name in the record is the one the key stands for: /proc only when there is none.
      const exe = comm || (ev.pid !== 0 ? this.processName(ev.pid) : undefined) || 'unknown';
      const excluded = (this.include !== undefined && !this.include.has(exe) && !this.include.has(comm)) || this.exclude.has(exe) || this.exclude.has(comm);
      const resourceAttrs: Attributes = processResourceAttributes(ev.pid, exe, this.hostName);
      this.comms.retain(commId);
      proc = {
        pid: ev.pid, exe, resourceAttrs, excluded, dirty: true, commId,
        connections: new Map(), connectDuration: new Map(), connectionDuration: new Map(), io: new Map(), retransmits: new Map(),
      };
      this.processes.set(key, proc);
    }
    proc.dirty = true;
    return proc;
  }

  /** Server side of the connection: remote for outbound, local for inbound. */
  private serverAt(ev: TcpEvent): number {
    return ev.offset + (ev.direction === TCP_DIRECTION.INBOUND ? OFF.localAddr : OFF.remoteAddr);
  }
  private serverPort(ev: TcpEvent): number {
    return ev.direction === TCP_DIRECTION.INBOUND ? ev.localPort : ev.remotePort;
  }

  private addrId(ev: TcpEvent): number {
    const at = this.serverAt(ev);
    const v4 = ev.family === AF_INET;
    // IPv4 addresses intern as one word; IPv6 as four (v4-mapped ones as their IPv4 word).
    const mapped = !v4 && isV4Mapped(ev.view, at);
    const id = v4 ? this.addrs.intern(ev.view, at, 1) : mapped ? this.addrs.intern(ev.view, at + 12, 1) : this.addrs.intern(ev.view, at, 4);
    if (id >= 0 && this.addrs.lastWasNew) this.addrNames[id] = formatAddress(ev.view, at, ev.family);
    return id;
  }

  private networkType(ev: TcpEvent): number {
    return ev.family === AF_INET || isV4Mapped(ev.view, this.serverAt(ev)) ? 0 : 1;
  }

  /** Series key: port | type | outcome | direction | address id. -1 when an interner is full. */
  private connKey(ev: TcpEvent, withOutcome: boolean): number {
    const addr = this.addrId(ev);
    if (addr < 0) return OVERFLOW_KEY;
    const k1 = this.serverPort(ev) | (this.networkType(ev) << 16) | ((withOutcome ? ev.outcome : 7) << 17) | (ev.direction << 20);
    return k1 + CONN_ADDR_UNIT * addr;
  }

  private connAttrs(proc: ProcessSeries, key: number, ev: TcpEvent, withOutcome: boolean): Attributes {
    const attrs: Attributes = {
      'network.tcp.direction': ev.direction === TCP_DIRECTION.INBOUND ? 'inbound' : 'outbound',
    };
    if (withOutcome) attrs['sonde.tcp.outcome'] = TCP_OUTCOMES[ev.outcome]!;
    attrs['network.type'] = this.networkType(ev) === 0 ? 'ipv4' : 'ipv6';
    attrs['server.address'] = this.addrNames[connKeyAddr(key)] ?? '';
    attrs['server.port'] = this.serverPort(ev);
    attrs['process.executable.name'] = proc.exe;
    return attrs;
  }

  private admit(metric: TcpMetricName, points: Map<number, unknown>, key: number): number {
    if (key !== OVERFLOW_KEY && points.has(key)) return key;
    if (key !== OVERFLOW_KEY && this.seriesCount[metric] < this.options.maxSeries) {
      this.seriesCount[metric]++;
      return key;
    }
    this.overflowPoints[metric]++;
    this.options.onOverflow?.(metric);
    return OVERFLOW_KEY;
  }

  private sum(proc: ProcessSeries, points: Map<number, SumPoint>, metric: TcpMetricName, key: number, ev: TcpEvent, withOutcome: boolean, delta: number): void {
    const k = this.admit(metric, points, key);
    let p = points.get(k);
    if (p === undefined) {
      p = { attrs: k === OVERFLOW_KEY ? OVERFLOW_ATTRS : this.connAttrs(proc, k, ev, withOutcome), start: this.now(), value: 0 };
      if (k !== OVERFLOW_KEY) this.addrs.retain(connKeyAddr(k));
      points.set(k, p);
    }
    p.value += delta;
  }

  private hist(proc: ProcessSeries, points: Map<number, HistPoint>, metric: TcpMetricName, bounds: readonly number[], key: number, ev: TcpEvent, withOutcome: boolean, value: number): void {
    const k = this.admit(metric, points, key);
    let p = points.get(k);
    if (p === undefined) {
      p = { attrs: k === OVERFLOW_KEY ? OVERFLOW_ATTRS : this.connAttrs(proc, k, ev, withOutcome), start: this.now(), hist: new CumulativeHistogram(bounds) };
      if (k !== OVERFLOW_KEY) this.addrs.retain(connKeyAddr(k));
      points.set(k, p);
    }
    p.hist.record(value);
  }

  /** sonde.tcp.io: one series per direction (transmit 0, receive 1). */
  private ioSum(proc: ProcessSeries, dir: 0 | 1, bytes: number): void {
    const k = this.admit('sonde.tcp.io', proc.io, dir);
    let p = proc.io.get(k);
    if (p === undefined) {
      p = { attrs: k === OVERFLOW_KEY ? OVERFLOW_ATTRS : { 'network.io.direction': dir === 0 ? 'transmit' : 'receive' }, start: this.now(), value: 0 };
      proc.io.set(k, p);
    }
    p.value += bytes;
  }

  private recordRetransmit(proc: ProcessSeries, ev: TcpEvent): void {
    const addr = this.addrId(ev);
    const key = addr < 0 ? OVERFLOW_KEY : this.serverPort(ev) + RETRANSMIT_ADDR_UNIT * addr;
    const k = this.admit('sonde.tcp.retransmits', proc.retransmits, key);
    let p = proc.retransmits.get(k);
    if (p === undefined) {
      p = {
        attrs: k === OVERFLOW_KEY ? OVERFLOW_ATTRS : { 'server.address': this.addrNames[addr] ?? '', 'server.port': this.serverPort(ev) },
        start: this.now(),
        value: 0,
      };
      if (k !== OVERFLOW_KEY) this.addrs.retain(addr);
      proc.retransmits.set(k, p);
    }
    p.value += 1;
  }
}

/** Connection series keys: port | type | outcome | direction in the low 22 bits, address id above. */
const CONN_ADDR_UNIT = 4194304;
/** Retransmit series keys: port in the low 16 bits, address id above. */
const RETRANSMIT_ADDR_UNIT = 65536;
function connKeyAddr(key: number): number {
  return Math.floor(key / CONN_ADDR_UNIT);
}
function retransmitKeyAddr(key: number): number {
  return Math.floor(key / RETRANSMIT_ADDR_UNIT);
}

function countReal(points: Map<number, unknown>): number {
  return points.has(OVERFLOW_KEY) ? points.size - 1 : points.size;
}
