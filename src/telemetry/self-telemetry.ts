import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Sonde's own metrics, served on the admin endpoint's /metrics in Prometheus text.
 * One instance lives for the whole process, so counters keep counting across config reloads.
 * Components never create prom-client objects themselves: they ask here (get-or-create), which
 * keeps names unique and the `sonde_` prefix uniform.
 */
export class SelfTelemetry {
  readonly registry = new Registry();

  readonly receiverAccepted = this.counter('sonde_receiver_accepted_items_total', 'Items (spans, data points) a receiver pushed into its pipelines.', ['receiver']);
  readonly receiverRefused = this.counter('sonde_receiver_refused_items_total', 'Items a receiver could not push (downstream refused, malformed input).', ['receiver']);
  readonly processorDropped = this.counter('sonde_processor_dropped_items_total', 'Items a processor dropped on purpose or by limit.', ['processor', 'pipeline']);
  readonly exporterSent = this.counter('sonde_exporter_sent_items_total', 'Items an exporter delivered.', ['exporter']);
  readonly exporterSendFailed = this.counter('sonde_exporter_send_failed_items_total', 'Items an exporter gave up on after retries, or that were refused for good.', ['exporter']);
  readonly exporterEnqueueFailed = this.counter('sonde_exporter_enqueue_failed_items_total', 'Items refused because an exporter queue was full (when_full: drop_newest).', ['exporter']);
  readonly exporterRetries = this.counter('sonde_exporter_retries_total', 'Export attempts that failed and were scheduled again.', ['exporter']);
  readonly exporterQueueSize = this.gauge('sonde_exporter_queue_size', 'Batches waiting in an exporter queue.', ['exporter']);
  readonly exporterQueueCapacity = this.gauge('sonde_exporter_queue_capacity', 'Capacity of an exporter queue, in batches.', ['exporter']);
  readonly ebpfEvents = this.counter('sonde_ebpf_events_total', 'Events read from the BPF ring buffer.', ['program']);
  readonly ebpfEventsLost = this.counter('sonde_ebpf_events_lost_total', 'Events the kernel side could not hand over (ring full) or user space could not decode.', ['program']);
  readonly configReloads = this.counter('sonde_config_reloads_total', 'Config reloads (SIGHUP), by result.', ['result']);

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'sonde_' });
  }

  counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    const existing = this.registry.getSingleMetric(name);
    if (existing) return existing as Counter<L>;
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  gauge<L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
    const existing = this.registry.getSingleMetric(name);
    if (existing) return existing as Gauge<L>;
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  histogram<L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]): Histogram<L> {
    const existing = this.registry.getSingleMetric(name);
    if (existing) return existing as Histogram<L>;
    return new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }

  async render(): Promise<string> {
    return this.registry.metrics();
  }
}
