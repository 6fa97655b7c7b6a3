import type { WhenFull } from './config.js';
import type { QueueEntry, QueueStore } from './queue-store.js';

export type EnqueueOutcome = 'queued' | 'full' | 'closed';
/** What `handle` did with an entry: `keep` leaves it in a persistent store for the next run. */
export type HandleOutcome = 'done' | 'keep';

/**
 * Runs `consumers` workers that take entries from a store and hand them to `handle`, and applies
 * the when_full policy to producers. `drain` stops intake and waits for the store to empty. When
 * `handle` keeps an entry (persistent store, shutting down, backend failing), workers take no
 * more: the rest stays on disk for the next run.
 */
export class SendingQueue {
  private readonly itemWaiters: (() => void)[] = [];
  private readonly spaceWaiters: (() => void)[] = [];
  private workers: Promise<void>[] = [];
  private closing = false;
  private stopped = false;
  /** Workers take no new entries (an entry was kept during shutdown, or stop()). */
  private stopTaking = false;

  constructor(
    private readonly store: QueueStore,
    private readonly consumers: number,
    private readonly whenFull: WhenFull,
    private readonly handle: (entry: QueueEntry) => Promise<HandleOutcome | void>,
    private readonly onSizeChange: (size: number) => void,
  ) {}

  get capacity(): number {
    return this.store.capacity;
  }

  start(): void {
    if (this.workers.length > 0 || this.stopped) return;
    for (let i = 0; i < this.consumers; i++) this.workers.push(this.work());
  }

  get persistent(): boolean {
    return this.store.persistent === true;
  }

  /** Batches waiting in the store. */
  size(): number {
    return this.store.size();
  }

  /**
   * Offers `entry` under the when_full policy. `onQueued` runs as soon as the store holds it, before
   * any worker can take it (so counts of queued items never go below zero).
   */
  async enqueue(entry: QueueEntry, onQueued?: () => void): Promise<EnqueueOutcome> {
    for (;;) {
      if (this.closing) return 'closed';
      // May throw (a persistent store that cannot take this entry); the caller counts and refuses it.
      if (await this.store.offer(entry)) {
        onQueued?.();
        this.onSizeChange(this.store.size());
        this.wake(this.itemWaiters);
        return 'queued';
      }
      if (this.whenFull === 'drop_newest') return 'full';
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
    }
  }

  /**
   * Stops intake (blocked producers get 'closed') and lets the workers empty the store.
   * Resolves true when everything was handled, false when `deadline` resolved first.
   */
  async drain(deadline: Promise<void>): Promise<boolean> {
    this.closing = true;
    this.wakeAll(this.spaceWaiters);
    this.wakeAll(this.itemWaiters);
    if (this.workers.length === 0) return this.store.size() === 0;
    const finished = Promise.all(this.workers).then(() => true);
    return Promise.race([finished, deadline.then(() => false)]);
  }

  /**
   * After the drain: stop workers and hand back what is still stored (in-memory store), to be
   * counted as lost. A persistent store keeps its content for the next run: nothing is handed back.
   */
  async stop(): Promise<QueueEntry[]> {
    this.closing = true;
    this.stopped = true;
    this.stopTaking = true;
    this.wakeAll(this.itemWaiters);
    this.wakeAll(this.spaceWaiters);
    const left: QueueEntry[] = [];
    if (!this.persistent) {
      for (let e = await this.store.take(); e; e = await this.store.take()) left.push(e);
      this.onSizeChange(0);
    }
    // In-flight sends were aborted by the caller; let them settle (and be counted) before closing.
    await Promise.all(this.workers);
    await this.store.close();
    return left;
  }

  private async work(): Promise<void> {
    while (!this.stopped && !this.stopTaking) {
      const entry = await this.store.take();
      if (!entry) {
        if (this.closing) return;
        await new Promise<void>((resolve) => this.itemWaiters.push(resolve));
        continue;
      }
      this.onSizeChange(this.store.size());
      this.wake(this.spaceWaiters);
      let outcome: HandleOutcome | void = 'done';
      try {
        outcome = await this.handle(entry);
      } finally {
        if (outcome === 'keep') this.stopTaking = true;
        else await this.store.done(entry);
      }
      // A store bounded by bytes (persistent) frees room on done, not on take.
      this.wake(this.spaceWaiters);
    }
  }

  private wake(waiters: (() => void)[]): void {
    waiters.shift()?.();
  }

  private wakeAll(waiters: (() => void)[]): void {
    for (const w of waiters.splice(0)) w();
  }
}
