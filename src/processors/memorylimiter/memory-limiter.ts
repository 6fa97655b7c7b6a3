// The memory_limiter processor: measures the process's resident memory every check_interval and,
// above the soft limit (limit - spike), refuses data with a retryable error, which travels back to
// the receiver (OTLP answers 503 / UNAVAILABLE, so senders retry later) and raises the shared
// memory pressure signal so receivers refuse before decoding more. Above either limit it also
// forces garbage collections (spaced by min_gc_interval_when_*_limited) to give the heap back. Refused items are counted once here, in
// sonde_processor_refused_items_total; the receiver counts them in its refused total.
import type { Consumer, CreateSettings, Processor } from '../../component/types.js';
import { retryableError } from '../../errors/index.js';
import { countItems } from '../../pdata/count.js';
import type { TelemetryBatch } from '../../pdata/types.js';
import { processMemoryPressure, type MemoryLevel, type MemoryPressure } from '../../service/memory-pressure.js';
import type { MemoryLimits } from './config.js';
import { forceGc, residentBytes } from './memory-source.js';

export interface MemoryLimiterDeps {
  readMemory?: () => number;
  pressure?: MemoryPressure;
  gc?: () => boolean;
  now?: () => number;
}

const LEVEL_VALUE: Record<MemoryLevel, number> = { ok: 0, soft: 1, hard: 2 };

export class MemoryLimiter implements Processor {
  readonly mutatesData = false;
  private levelValue: MemoryLevel = 'ok';
  private timer: NodeJS.Timeout | undefined;
  private lastCheck = -Infinity;
  private lastGc = -Infinity;
  private stopped = false;
  private readonly source: string;
  private readonly readMemory: () => number;
  private readonly pressure: MemoryPressure;
  private readonly gc: () => boolean;
  private readonly now: () => number;
  private readonly refused;
  private readonly levelGauge;
  private readonly usedGauge;
  private readonly forcedGc;

  constructor(
    private readonly settings: Pick<CreateSettings, 'id' | 'logger' | 'telemetry'> & { pipeline: string },
    readonly limits: MemoryLimits,
    private readonly next: Consumer,
    deps: MemoryLimiterDeps = {},
  ) {
    this.readMemory = deps.readMemory ?? residentBytes;
    this.pressure = deps.pressure ?? processMemoryPressure;
    this.gc = deps.gc ?? forceGc;
    this.now = deps.now ?? Date.now;
    this.source = `${settings.id.key}@${settings.pipeline}`;
    const labels = { processor: settings.id.key, pipeline: settings.pipeline };
    const t = settings.telemetry;
    this.refused = t.counter('sonde_processor_refused_items_total', 'Items a processor refused with a retryable error (memory_limiter above its soft limit); the sender may retry.', ['processor', 'pipeline']).labels(labels);
    this.levelGauge = t.gauge('sonde_memory_limiter_level', 'Memory state seen by a memory_limiter: 0 below the soft limit, 1 above it (refusing), 2 above the hard limit.', ['processor', 'pipeline']).labels(labels);
    this.usedGauge = t.gauge('sonde_memory_limiter_resident_bytes', 'Resident memory of the process at the last memory_limiter check.', ['processor', 'pipeline']).labels(labels);
    this.forcedGc = t.counter('sonde_memory_limiter_forced_gc_total', 'Garbage collections a memory_limiter forced above its soft or hard limit.', ['processor', 'pipeline']).labels(labels);
    // Export every series from the start, so dashboards see 0 rather than nothing.
    this.levelGauge.set(0);
    this.refused.inc(0);
    this.forcedGc.inc(0);
  }

  get level(): MemoryLevel {
    return this.levelValue;
  }

  async start(): Promise<void> {
    if (this.timer || this.stopped) return;
    this.check();
    this.timer = setInterval(() => this.check(), this.limits.checkIntervalMs);
    this.timer.unref();
  }

  async consume(batch: TelemetryBatch): Promise<void> {
    // The timer can lag behind under load; measure here too when the last check is stale.
    if (this.now() - this.lastCheck >= this.limits.checkIntervalMs) this.check();
    if (this.levelValue !== 'ok') {
      const items = countItems(batch);
      this.refused.inc(items);
      throw retryableError('SONDE_MEMORY_LIMIT_EXCEEDED', `${this.settings.id.key}: memory above the ${this.levelValue} limit; ${items} items refused`, {
        hint: 'Sonde is short of memory; the sender should retry later.',
      });
    }
    return this.next.consume(batch);
  }

  /** Measures memory and updates the level, the gauges and the shared pressure signal. */
  check(): MemoryLevel {
    const now = this.now();
    this.lastCheck = now;
    let used = this.readMemory();
    // A full GC of a large heap is not free, so forced ones are spaced out (as in the Collector).
    const gcInterval = used >= this.limits.hardBytes ? this.limits.hardGcIntervalMs : used >= this.limits.softBytes ? this.limits.softGcIntervalMs : undefined;
    if (gcInterval !== undefined && now - this.lastGc >= gcInterval) {
      this.lastGc = now;
      if (this.gc()) {
        this.forcedGc.inc();
        used = this.readMemory();
      }
    }
    const level: MemoryLevel = used >= this.limits.hardBytes ? 'hard' : used >= this.limits.softBytes ? 'soft' : 'ok';
    this.usedGauge.set(used);
    if (level !== this.levelValue) {
      const log = { processor: this.settings.id.key, pipeline: this.settings.pipeline, residentBytes: used, softBytes: this.limits.softBytes, hardBytes: this.limits.hardBytes };
      if (level === 'ok') this.settings.logger.info(log, 'memory back below the soft limit; accepting data again');
      else this.settings.logger.warn({ ...log, code: 'SONDE_MEMORY_LIMIT_EXCEEDED' }, `memory above the ${level} limit; refusing data`);
      this.levelValue = level;
      this.levelGauge.set(LEVEL_VALUE[level]);
      if (!this.stopped) this.pressure.set(this.source, level);
    }
    return level;
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.pressure.clear(this.source);
  }
}
