// The TCP feature: picks the connect hook by probing (the ladder), loads and attaches
// bpf/out/tcp.bpf.o, fills the in-kernel filters, reads the ring into the aggregator.
import { join } from 'node:path';
import type { ResourceMetrics } from '../../../pdata/types.js';
import type { Logger } from '../../../telemetry/logger.js';
import { SondeError } from '../../../errors/index.js';
import { BpfObject, CloseGroup } from '../libbpf/bpf-object.js';
import { RingReader } from '../libbpf/ring-reader.js';
import { LostCounter } from '../libbpf/lost-counter.js';
import { MissedRunsCounter } from '../libbpf/missed-runs-counter.js';
import { withQuietLibbpf } from '../libbpf/log.js';
import type { EbpfFeature, FeatureContext } from '../feature.js';
import type { ProcessPortFilter } from '../config.js';
import { TcpAggregator, type TcpMetricName } from './tcp-aggregator.js';
import { TCP_LOST_SLOTS, TCP_MISSED_PROGRAMS, createTcpEvent, decodeTcpEvent } from './tcp-event.js';

export type TcpConnectHook = 'fentry' | 'kprobe' | 'tracepoint';
export const TCP_HOOK_LADDER: readonly TcpConnectHook[] = ['fentry', 'kprobe', 'tracepoint'];
const HOOK_VALUE: Record<TcpConnectHook, number> = { fentry: 1, kprobe: 2, tracepoint: 3 };

const RUNG_PROGRAMS: Record<TcpConnectHook, readonly string[]> = {
  fentry: ['sonde_tcp_fentry_v4_connect', 'sonde_tcp_fentry_v6_connect'],
  kprobe: ['sonde_tcp_kprobe_v4_connect', 'sonde_tcp_kprobe_v6_connect'],
  tracepoint: [],
};
/**
 * How the state-change and retransmit programs attach. Raw tracepoints first: the kernel skips a
 * classic tracepoint program whenever any other kprobe/tracepoint BPF program is running on the
 * CPU (e.g. a connect timing out in the timer softirq while another tool's syscall probe runs),
 * which silently dropped connect outcomes on busy hosts; a raw tracepoint is only skipped when it
 * interrupts itself. Either way the skipped runs are counted (recursion_misses).
 */
export type TcpStateAttach = 'raw_tracepoint' | 'tracepoint';
export const TCP_STATE_ATTACH_LADDER: readonly TcpStateAttach[] = ['raw_tracepoint', 'tracepoint'];
const STATE_PROGRAMS: Record<TcpStateAttach, { state: string; retransmit: string }> = {
  raw_tracepoint: { state: 'sonde_tcp_state_raw', retransmit: 'sonde_tcp_retransmit_raw' },
  tracepoint: { state: 'sonde_tcp_state', retransmit: 'sonde_tcp_retransmit' },
};
const ACCEPT_PROGRAMS = ['sonde_tcp_accept4_exit', 'sonde_tcp_accept_exit'];

const FILTER = { PORT_INCLUDE: 1, COMM_INCLUDE: 2, PID_INCLUDE: 4, ACTIVE: 8 } as const;
const INCLUDE = 1;
const EXCLUDE = 2;

export interface RungAttempt {
  hook: TcpConnectHook;
  stateAttach: TcpStateAttach;
  ok: boolean;
  /** Why the rung failed (error code and message). */
  reason?: string;
}

export interface TcpLoadOptions {
  objectPath: string;
  logger?: Logger;
  ringBufferSize: number;
  wakeupThreshold: number;
  /** Size of the kernel's socket map (tcp.max_connections); default as compiled (65536). */
  maxConnections?: number;
  include?: ProcessPortFilter;
  exclude?: ProcessPortFilter;
}

export interface LoadedTcp {
  obj: BpfObject;
  hook: TcpConnectHook;
  stateAttach: TcpStateAttach;
  attempts: RungAttempt[];
  /** Hooks that could not be attached but are not fatal (e.g. accept tracepoints). */
  degraded: string[];
}

function filterFlags(include: ProcessPortFilter | undefined, exclude: ProcessPortFilter | undefined): number {
  let flags = 0;
  if (include?.ports.length) flags |= FILTER.PORT_INCLUDE;
  if (include?.processes.length) flags |= FILTER.COMM_INCLUDE;
  if (include?.pids.length) flags |= FILTER.PID_INCLUDE;
  const any = [include, exclude].some((f) => f && (f.ports.length || f.processes.length || f.pids.length));
  if (any) flags |= FILTER.ACTIVE;
  return flags;
}

function fillFilters(obj: BpfObject, include: ProcessPortFilter | undefined, exclude: ProcessPortFilter | undefined): void {
  const ports = obj.map('port_filter');
  const comms = obj.map('comm_filter');
  const pids = obj.map('pid_filter');
  const put = (f: ProcessPortFilter | undefined, action: number): void => {
    if (!f) return;
    const value = new Uint8Array([action]);
    for (const p of f.ports) {
      const k = new Uint8Array(2);
      new DataView(k.buffer).setUint16(0, p, true);
      ports.update(k, value);
    }
    for (const name of f.processes) {
      const k = new Uint8Array(16);
      k.set(Buffer.from(name, 'utf8').subarray(0, 15));
      comms.update(k, value);
    }
    for (const pid of f.pids) {
      const k = new Uint8Array(4);
      new DataView(k.buffer).setUint32(0, pid, true);
      pids.update(k, value);
    }
  };
  put(include, INCLUDE);
  put(exclude, EXCLUDE); // exclusion wins: written last
}

/** Opens, configures, loads and attaches the TCP object with one connect hook. Throws on failure. */
function loadWithHook(hook: TcpConnectHook, stateAttach: TcpStateAttach, options: TcpLoadOptions, degraded: string[]): BpfObject {
  const obj = BpfObject.openFile(options.objectPath, { name: 'tcp', logger: options.logger });
  try {
    const state = STATE_PROGRAMS[stateAttach];
    const wanted = new Set([state.state, state.retransmit, ...ACCEPT_PROGRAMS, ...RUNG_PROGRAMS[hook]]);
    for (const p of obj.programs()) p.autoload = wanted.has(p.name);
    obj.setRodata({
      connect_hook: HOOK_VALUE[hook],
      filter_flags: filterFlags(options.include, options.exclude),
      sonde_wakeup_bytes: options.wakeupThreshold,
    });
    obj.map('tcp_events').setMaxEntries(options.ringBufferSize);
    if (options.maxConnections !== undefined) obj.map('tcp_socks').setMaxEntries(options.maxConnections);
    obj.load();
    fillFilters(obj, options.include, options.exclude);
    for (const name of RUNG_PROGRAMS[hook]) {
      const p = obj.program(name);
      const fn = name.includes('v6') ? 'tcp_v6_connect' : 'tcp_v4_connect';
      if (hook === 'fentry') p.attachTrace();
      else p.attachKprobe(fn);
    }
    for (const name of [state.state, state.retransmit]) obj.program(name).attach();
    for (const name of ACCEPT_PROGRAMS) {
      try {
        obj.program(name).attach();
      } catch (err) {
        degraded.push(`${name}: ${(err as Error).message}`);
      }
    }
    if (degraded.length === ACCEPT_PROGRAMS.length) options.logger?.warn({ degraded }, 'accept syscall tracepoints unavailable: inbound connections will not be attributed');
    return obj;
  } catch (err) {
    obj.close();
    throw err;
  }
}

/**
 * The hook ladder: tries fentry, then kprobe on tcp_v{4,6}_connect, then the
 * sock:inet_sock_set_state tracepoint alone; the first rung that loads AND attaches wins.
 */
export function loadTcpObject(
  options: TcpLoadOptions,
  ladder: readonly TcpConnectHook[] = TCP_HOOK_LADDER,
  stateLadder: readonly TcpStateAttach[] = TCP_STATE_ATTACH_LADDER,
): LoadedTcp {
  const attempts: RungAttempt[] = [];
  let failure: unknown;
  for (const [i, hook] of ladder.entries()) {
    for (const [j, stateAttach] of stateLadder.entries()) {
      const degraded: string[] = [];
      const last = i === ladder.length - 1 && j === stateLadder.length - 1;
      try {
        // A refused rung is an expected answer: keep libbpf's complaint at debug level.
        const obj = last
          ? loadWithHook(hook, stateAttach, options, degraded)
          : withQuietLibbpf(() => loadWithHook(hook, stateAttach, options, degraded));
        attempts.push({ hook, stateAttach, ok: true });
        return { obj, hook, stateAttach, attempts, degraded };
      } catch (err) {
        failure = err;
        const reason = err instanceof SondeError ? `${err.code}: ${err.message.split('\n')[0]}` : String(err);
        attempts.push({ hook, stateAttach, ok: false, reason });
        options.logger?.debug({ hook, stateAttach, reason }, 'TCP hook rung unavailable, trying the next');
      }
    }
  }
  throw failure;
}

export class TcpCapture implements EbpfFeature {
  readonly name = 'tcp';
  hook: TcpConnectHook | undefined;
  stateAttach: TcpStateAttach | undefined;
  attempts: RungAttempt[] = [];
  readonly aggregator: TcpAggregator;
  readonly stats = { events: 0, rejected: 0, lost: 0 };
  private readonly group = new CloseGroup();
  private obj: BpfObject | undefined;
  private reader: RingReader | undefined;
  private lost: LostCounter | undefined;
  /** Programs whose skipped runs (recursion_misses) are reported, with the last value seen. */
  private missed: MissedRunsCounter | undefined;
  private readonly event = createTcpEvent();
  private unflushedEvents = 0;
  private readonly unflushedRejects = new Map<string, number>();
  private readonly unflushedOverflow = new Map<TcpMetricName, number>();

  constructor(private readonly ctx: FeatureContext) {
    this.aggregator = new TcpAggregator({
      maxSeries: ctx.config.maxSeries,
      onOverflow: (metric) => this.unflushedOverflow.set(metric, (this.unflushedOverflow.get(metric) ?? 0) + 1),
    });
  }

  start(): void {
    const { config, logger } = this.ctx;
    const loaded = loadTcpObject({
      objectPath: join(this.ctx.objectDir, 'tcp.bpf.o'),
      logger,
      ringBufferSize: config.ringBufferSize,
      wakeupThreshold: config.wakeupThreshold,
      maxConnections: config.tcp.max_connections,
      include: config.include,
      exclude: config.exclude,
    });
    this.group.add(loaded.obj);
    this.obj = loaded.obj;
    this.hook = loaded.hook;
    this.stateAttach = loaded.stateAttach;
    this.attempts = loaded.attempts;
    logger.info(
      {
        hook: loaded.hook,
        stateAttach: loaded.stateAttach,
        ladder: loaded.attempts.map((a) => `${a.hook}+${a.stateAttach}: ${a.ok ? 'ok' : a.reason}`),
      },
      `eBPF TCP capture: connect hook ${loaded.hook}, state changes via ${loaded.stateAttach}`,
    );
    const hookInfo = this.ctx.telemetry.gauge('sonde_ebpf_hook_info', 'Hook chosen at start-up by each eBPF feature (1 = in use).', ['feature', 'hook']);
    hookInfo.labels('tcp_connect', loaded.hook).set(1);
    hookInfo.labels('tcp_state', loaded.stateAttach).set(1);
    this.lost = new LostCounter(loaded.obj, TCP_LOST_SLOTS);
    const state = STATE_PROGRAMS[loaded.stateAttach];
    const byLabel: Record<(typeof TCP_MISSED_PROGRAMS)[number], string[]> = {
      tcp_state: [state.state, ...RUNG_PROGRAMS[loaded.hook]],
      tcp_accept: ACCEPT_PROGRAMS,
      tcp_retransmit: [state.retransmit],
    };
    this.missed = new MissedRunsCounter(
      TCP_MISSED_PROGRAMS.map((label) => ({ label: `${label}_missed`, programs: byLabel[label].map((n) => loaded.obj.program(n)) })),
    );
    // Zero series up front, so /metrics shows "0 lost" rather than nothing.
    for (const program of [...TCP_LOST_SLOTS, ...this.missed.labels, 'tcp_decoder']) this.ctx.telemetry.ebpfEventsLost.labels(program).inc(0);
    this.ctx.telemetry.ebpfEvents.labels('tcp').inc(0);
    const events = loaded.obj.map('tcp_events');
    this.reader = this.group.add(
      new RingReader({
        mapFd: events.fd,
        size: events.maxEntries,
        pollIntervalMs: config.pollIntervalMs,
        handler: (view, offset, length) => this.onRecord(view, offset, length),
        onHandlerError: (err) => logger.warn({ err }, 'TCP event handler failed'),
      }),
    );
    this.reader.start();
  }

  /** One ring record: decode at fixed offsets, aggregate; refused records are counted. */
  onRecord(view: DataView, offset: number, length: number): void {
    const reject = decodeTcpEvent(view, offset, length, this.event);
    if (reject !== null) {
      this.stats.rejected++;
      this.unflushedRejects.set(reject, (this.unflushedRejects.get(reject) ?? 0) + 1);
      return;
    }
    this.stats.events++;
    this.unflushedEvents++;
    this.aggregator.record(this.event);
  }

  collectMetrics(): ResourceMetrics[] {
    this.reader?.consume();
    return this.aggregator.collect();
  }

  flushStats(): void {
    const t = this.ctx.telemetry;
    if (this.unflushedEvents > 0) {
      t.ebpfEvents.labels('tcp').inc(this.unflushedEvents);
      this.unflushedEvents = 0;
    }
    this.lost?.collect((program, delta) => {
      this.stats.lost += delta;
      t.ebpfEventsLost.labels(program).inc(delta);
    });
    if (this.obj && !this.obj.closed) {
      this.missed?.collect((label, delta) => {
        this.stats.lost += delta;
        t.ebpfEventsLost.labels(label).inc(delta);
      });
    }
    if (this.unflushedRejects.size > 0) {
      const decodeErrors = t.counter('sonde_ebpf_decode_errors_total', 'Ring buffer records user space refused to decode (unknown schema, bad size or fields).', ['program', 'reason']);
      for (const [reason, n] of this.unflushedRejects) {
        decodeErrors.labels('tcp', reason).inc(n);
        t.ebpfEventsLost.labels('tcp_decoder').inc(n);
      }
      this.unflushedRejects.clear();
    }
    if (this.unflushedOverflow.size > 0) {
      const overflow = t.counter('sonde_ebpf_series_overflow_total', 'Data points recorded into an overflow series because a metric reached max_series.', ['metric']);
      for (const [metric, n] of this.unflushedOverflow) overflow.labels(metric).inc(n);
      this.unflushedOverflow.clear();
    }
  }

  drain(): void {
    if (!this.reader) return;
    for (let i = 0; i < 64 && this.reader.consume() > 0; i++) {
      /* read until empty, bounded under a storm */
    }
  }

  /** Kernel ids of the loaded programs (tests check they are gone after close). */
  programIds(): number[] {
    if (!this.obj || this.obj.closed) return [];
    return this.obj.programs().filter((p) => p.autoload).map((p) => p.id).filter((id) => id > 0);
  }

  close(): void {
    this.reader = undefined;
    this.group.close();
  }
}
