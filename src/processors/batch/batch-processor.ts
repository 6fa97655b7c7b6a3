import type { Consumer, Processor } from '../../component/types.js';
import { parseDuration } from '../../config/units.js';
import { countItems } from '../../pdata/count.js';
import type { ResourceMetrics, ResourceSpans, TelemetryBatch } from '../../pdata/types.js';
import type { Logger } from '../../telemetry/logger.js';
import type { BatchConfig } from './config.js';
import { splitBatch } from './split.js';

interface Buffer {
  resourceSpans: ResourceSpans[];
  resourceMetrics: ResourceMetrics[];
  items: number;
}

/** Where the batch processor counts items it drops (sonde_processor_dropped_items_total). */
export interface DropCounter {
  inc(items: number): void;
}

const NOT_COUNTED: DropCounter = { inc: () => undefined };

/**
 * Buffers items and sends them on when send_batch_size is reached or the oldest item has
 * waited `timeout`. consume() resolves once the data is buffered, so upstream has been told it
 * was accepted: a batch that downstream then refuses or fails is dropped here, logged and
 * counted in `dropped` (the exporter that refused it may count it too, in its own series).
 */
export class BatchProcessor implements Processor {
  readonly mutatesData = false;
  private readonly timeoutMs: number;
  private buffer: Buffer = { resourceSpans: [], resourceMetrics: [], items: 0 };
  private signal: TelemetryBatch['signal'] | undefined;
  /**
   * The one client every buffered batch came from; undefined once batches of different clients
   * (or one without a client) were merged: a merged batch names no client, which is why
   * k8sattributes (association by connection) must run before this processor.
   */
  private client: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly config: BatchConfig,
    private readonly next: Consumer,
    private readonly logger: Logger,
    private readonly dropped: DropCounter = NOT_COUNTED,
  ) {
    this.timeoutMs = parseDuration(config.timeout);
  }

  async start(): Promise<void> {}

  async consume(batch: TelemetryBatch): Promise<void> {
    if (this.stopped) {
      // After shutdown nothing is buffered: pass straight through so no data is stranded.
      return this.next.consume(batch);
    }
    const n = countItems(batch);
    if (n === 0) return;
    this.signal = batch.signal;
    this.client = this.buffer.items === 0 || batch.clientAddress === this.client ? batch.clientAddress : undefined;
    if (batch.signal === 'traces') this.buffer.resourceSpans.push(...batch.resourceSpans);
    else this.buffer.resourceMetrics.push(...batch.resourceMetrics);
    this.buffer.items += n;
    if (this.buffer.items >= this.config.send_batch_size) this.flush();
    else if (!this.timer && this.timeoutMs > 0) {
      this.timer = setTimeout(() => this.flush(), this.timeoutMs);
      this.timer.unref();
    } else if (this.timeoutMs === 0) this.flush();
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.items === 0 || !this.signal) return;
    const whole: TelemetryBatch =
      this.signal === 'traces'
        ? { signal: 'traces', resourceSpans: this.buffer.resourceSpans }
        : { signal: 'metrics', resourceMetrics: this.buffer.resourceMetrics };
    if (this.client !== undefined) whole.clientAddress = this.client;
    this.client = undefined;
    this.buffer = { resourceSpans: [], resourceMetrics: [], items: 0 };
    const max = this.config.send_batch_max_size;
    const parts = max > 0 ? splitBatch(whole, max) : [whole];
    for (const part of parts) {
      const p = this.next
        .consume(part)
        .catch((err: unknown) => {
          const items = countItems(part);
          this.dropped.inc(items);
          this.logger.warn({ err, items }, 'batch send failed downstream: items dropped');
        })
        .finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.flush();
    await Promise.allSettled([...this.inFlight]);
  }
}
