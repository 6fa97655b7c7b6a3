// The ebpf receiver: starts its features (TCP, HTTP), ships their cumulative metrics every
// collection_interval and their spans every second, and tears everything down on shutdown.
// At most one export per signal is in flight: while downstream is slow, collection ticks are
// skipped (cumulative metrics lose nothing) and the ring keeps being read, so the event loop
// never waits on the kernel or the exporter.
import { fileURLToPath } from 'node:url';
import type { Consumer, CreateSettings, Receiver } from '../../component/types.js';
import type { ResourceMetrics, ResourceSpans, Signal } from '../../pdata/types.js';
import { countItems } from '../../pdata/count.js';
import { SondeError } from '../../errors/index.js';
import { ensureTracefs } from './libbpf/host.js';
import { completeEbpfConfig, resolveEbpfConfig, validateEbpfConfig, type EbpfConfig, type ResolvedEbpfConfig } from './config.js';
import type { EbpfFeature } from './feature.js';
import { createFeatures } from './features.js';

/** bpf/out relative to this file: the same from src/receivers/ebpf and dist/receivers/ebpf. */

/** How often buffered spans are handed to the pipeline. */
const SPAN_HANDOFF_MS = 200;
/** `sonde_ebpf_events_lost_total{program}` of spans shed while memory is above a soft limit. */
export const MEMORY_PRESSURE_LOST = 'http_memory_pressure';
export const DEFAULT_OBJECT_DIR = fileURLToPath(new URL('../../../bpf/out/', import.meta.url));

export interface EbpfReceiverOptions {
  /** Where the compiled BPF objects are (tests); default bpf/out of the package. */
  objectDir?: string;
}

export class EbpfReceiver implements Receiver {
  private readonly resolved: ResolvedEbpfConfig;
  private features: EbpfFeature[] = [];
  private metricsTimer: NodeJS.Timeout | undefined;
  private spansTimer: NodeJS.Timeout | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private inflight: Partial<Record<Signal, Promise<void>>> = {};
  private started = false;
  private shutdownPromise: Promise<void> | undefined;
  /** For tests and introspection. */
  readonly stats = { metricBatches: 0, spanBatches: 0, skippedTicks: 0, exportFailures: 0, spansShed: 0 };

  constructor(
    private readonly settings: CreateSettings,
    config: EbpfConfig,
    private readonly next: Partial<Record<Signal, Consumer>>,
    private readonly options: EbpfReceiverOptions = {},
  ) {
    const full = completeEbpfConfig(config);
    const problems = validateEbpfConfig(full);
    if (problems.length > 0) {
      throw new SondeError('SONDE_CONFIG_INVALID', `receivers.${settings.id.key}: ${problems.join('; ')}`);
    }
    this.resolved = resolveEbpfConfig(full);
  }

  /** The running features (tests, doctor-style introspection). */
  get running(): readonly EbpfFeature[] {
    return this.features;
  }

  async start(): Promise<void> {
    if (this.started || this.shutdownPromise) return;
    this.started = true;
    const { logger, telemetry, id } = this.settings;
    const features = createFeatures({
      config: this.resolved,
      logger,
      telemetry,
      receiver: id.key,
      objectDir: this.options.objectDir ?? DEFAULT_OBJECT_DIR,
      signals: { metrics: this.next.metrics !== undefined, traces: this.next.traces !== undefined },
    });
    if (features.length === 0) {
      logger.warn('ebpf receiver: no feature enabled for the pipelines it feeds; nothing to capture');
      return;
    }
    try {
      ensureTracefs();
      for (const f of features) {
        f.start();
        this.features.push(f);
      }
    } catch (err) {
      for (const f of this.features.reverse()) f.close();
      this.features = [];
      throw err;
    }
    for (const reason of ['pipeline_busy', 'memory_pressure'] as const) this.skippedCollections(reason).inc(0);
    this.metricsTimer = setInterval(() => this.tickMetrics(), this.resolved.collectionIntervalMs);
    this.metricsTimer.unref();
    // Spans leave in small, frequent batches: the feature buffer (http.max_buffered_spans) then
    // bounds ~200 ms of traffic rather than a whole second, so a busy host sheds far less.
    const spanEvery = Math.min(SPAN_HANDOFF_MS, this.resolved.collectionIntervalMs);
    if (this.next.traces && this.features.some((f) => f.takeSpans)) {
      telemetry.ebpfEventsLost.labels(MEMORY_PRESSURE_LOST).inc(0); // exported from start-up, like the other loss series
      this.spansTimer = setInterval(() => this.tickSpans(), spanEvery);
      this.spansTimer.unref();
    }
    this.statsTimer = setInterval(() => this.flushStats(), Math.min(1000, this.resolved.collectionIntervalMs));
    this.statsTimer.unref();
  }

  /** `sonde_ebpf_collections_skipped_total{receiver,reason}`: metric ticks that did not go out. */
  private skippedCollections(reason: 'pipeline_busy' | 'memory_pressure') {
    return this.settings.telemetry
      .counter('sonde_ebpf_collections_skipped_total', 'Metric collections of an eBPF receiver skipped: the previous one was still in its pipeline, or memory was above a soft limit. Cumulative metrics lose nothing; the next collection carries it.', ['receiver', 'reason'])
      .labels(this.settings.id.key, reason);
  }

  private flushStats(): void {
    for (const f of this.features) {
      try {
        f.flushStats();
      } catch (err) {
        this.settings.logger.warn({ err, feature: f.name }, 'ebpf: reading counters failed');
      }
    }
  }

  private tickMetrics(final = false): void {
    // Downstream busy, or memory above a memory_limiter's soft limit: skip this tick. The
    // metrics are cumulative, so the next tick that goes out carries everything counted meanwhile
    // (the last one, at shutdown, always goes out).
    const busy = this.inflight.metrics !== undefined;
    if (busy || (!final && this.settings.backpressure.shouldRefuse())) {
      this.stats.skippedTicks++;
      this.skippedCollections(busy ? 'pipeline_busy' : 'memory_pressure').inc();
      return; // the BPF counters still reach /metrics: statsTimer flushes them
    }
    const resourceMetrics: ResourceMetrics[] = [];
    for (const f of this.features) if (f.collectMetrics) resourceMetrics.push(...f.collectMetrics());
    this.flushStats();
    if (resourceMetrics.length > 0) this.send('metrics', resourceMetrics);
  }

  private tickSpans(): void {
    if (this.inflight.traces) return; // features buffer (bounded) until the pipeline takes them
    const resourceSpans: ResourceSpans[] = [];
    for (const f of this.features) if (f.takeSpans) resourceSpans.push(...f.takeSpans());
    if (resourceSpans.length === 0) return;
    if (this.settings.backpressure.shouldRefuse()) {
      // Above a memory_limiter's soft limit: spans are shed here, before a batch is built that
      // the pipeline would refuse, and counted as lost (the histograms still count the requests).
      const shed = countItems({ signal: 'traces', resourceSpans });
      this.stats.spansShed += shed;
      this.settings.telemetry.ebpfEventsLost.labels(MEMORY_PRESSURE_LOST).inc(shed);
      return;
    }
    this.send('traces', resourceSpans);
  }

  private send(signal: 'metrics', data: ResourceMetrics[]): void;
  private send(signal: 'traces', data: ResourceSpans[]): void;
  private send(signal: Signal, data: ResourceMetrics[] | ResourceSpans[]): void {
    const consumer = this.next[signal];
    if (!consumer) return;
    const batch = signal === 'metrics'
      ? { signal: 'metrics' as const, resourceMetrics: data as ResourceMetrics[] }
      : { signal: 'traces' as const, resourceSpans: data as ResourceSpans[] };
    const items = countItems(batch);
    const p = consumer
      .consume(batch)
      .then(() => {
        // sonde_receiver_accepted/refused_items_total are counted by the pipeline graph, not here.
        if (signal === 'metrics') this.stats.metricBatches++;
        else this.stats.spanBatches++;
      })
      .catch((err: unknown) => {
        this.stats.exportFailures++;
        this.settings.logger.warn({ err, signal, items }, 'ebpf receiver: downstream refused a batch');
      })
      .finally(() => {
        this.inflight[signal] = undefined;
      });
    this.inflight[signal] = p;
  }

  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.doShutdown();
    return this.shutdownPromise;
  }

  private async doShutdown(): Promise<void> {
    for (const t of [this.metricsTimer, this.spansTimer, this.statsTimer]) if (t) clearInterval(t);
    if (this.features.length === 0) return;
    try {
      for (const f of this.features) f.drain();
      // Let an in-flight export finish, then flush once more so nothing captured is lost.
      await Promise.all(Object.values(this.inflight));
      this.tickMetrics(true);
      this.tickSpans();
      await Promise.all(Object.values(this.inflight));
    } finally {
      for (const f of [...this.features].reverse()) {
        try {
          f.close();
        } catch (err) {
          this.settings.logger.warn({ err, feature: f.name }, 'ebpf: closing a feature failed');
        }
      }
      this.features = [];
    }
  }
}
