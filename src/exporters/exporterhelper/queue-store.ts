import type { TelemetryBatch } from '../../pdata/types.js';

export interface QueueEntry {
  readonly batch: TelemetryBatch;
  /** Spans or data points in the batch, counted once at enqueue. */
  readonly items: number;
}

/**
 * Where queued batches live: in memory (MemoryQueueStore) or on disk (PersistentQueueStore,
 * sending_queue.storage_dir). `offer` persists before resolving true (and may throw a SondeError
 * when the entry can never be stored), and `done` is when a handled entry (sent or given up) may
 * be deleted for good.
 */
export interface QueueStore {
  readonly capacity: number;
  /**
   * True for a store whose content outlives the process (sending_queue.storage_dir). At shutdown
   * such a store keeps what was not sent (it is sent by the next run) instead of handing it back
   * to be counted as failed; an entry taken but not done() stays stored and is delivered again.
   */
  readonly persistent?: boolean;
  size(): number;
  /** False when the store is full; the caller applies the when_full policy. */
  offer(entry: QueueEntry): Promise<boolean>;
  /** The oldest entry, or undefined when empty. */
  take(): Promise<QueueEntry | undefined>;
  done(entry: QueueEntry): Promise<void>;
  close(): Promise<void>;
}

/** FIFO ring buffer of fixed capacity: no allocation per offer/take once created. */
export class MemoryQueueStore implements QueueStore {
  private readonly ring: (QueueEntry | undefined)[];
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.ring = new Array<QueueEntry | undefined>(capacity).fill(undefined);
  }

  size(): number {
    return this.count;
  }

  async offer(entry: QueueEntry): Promise<boolean> {
    if (this.count >= this.capacity) return false;
    this.ring[(this.head + this.count) % this.capacity] = entry;
    this.count++;
    return true;
  }

  async take(): Promise<QueueEntry | undefined> {
    if (this.count === 0) return undefined;
    const entry = this.ring[this.head];
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    return entry;
  }

  async done(): Promise<void> {}

  async close(): Promise<void> {}
}
