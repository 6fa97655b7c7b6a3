// A QueueStore kept in LMDB (a crash-safe, copy-on-write B+tree in one memory-mapped file), so
// that batches accepted into an exporter queue survive a crash or `kill -9` and are sent after a
// restart. Keys are increasing sequence numbers; values are entry-codec records. Only keys and
// sizes stay in memory: a waiting batch lives on disk until a consumer takes it.
//
// Delivery is at-least-once: an entry is deleted only by done() (sent, or given up and counted).
// An entry taken but not done when the process dies is still on disk and is delivered again after
// the restart, so the backend may see it twice.
//
// One process per directory: the store holds a pid lock file (persistent-queue/directory-lock.ts)
// from open to close; another live Sonde on the same directory gets SONDE_QUEUE_STORAGE_FAILED.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type RootDatabase } from 'lmdb';
import { type SondeError, permanentError, retryableError } from '../../errors/index.js';
import type { Logger } from '../../telemetry/logger.js';
import type { QueueEntry, QueueStore } from './queue-store.js';
import { type DirectoryLock, lockDirectory } from './persistent-queue/directory-lock.js';
import { decodeEntry, encodeEntry } from './persistent-queue/entry-codec.js';

export const QUEUE_FILE = 'queue.mdb';

export interface PersistentQueueStoreOptions {
  /** This exporter's own directory (see queueDirectory); created when missing. */
  directory: string;
  /** Most batches waiting to be taken, as sending_queue.queue_size. */
  capacity: number;
  /** Most bytes of records kept on disk, waiting and in flight together. */
  maxBytes: number;
  logger: Pick<Logger, 'warn' | 'info' | 'error'>;
  /** Called for each stored record that could not be read back (it is deleted), with the item count of its header (0 if unreadable). */
  onCorrupt?: (items: number, reason: string) => void;
  /** Wait for the data to be flushed to the disk (fsync) before offer() resolves. Default true. */
  durable?: boolean;
}

/** The directory for one exporter id under storage_dir: `otlphttp/backend` -> `otlphttp_backend`. */
export function queueDirectory(storageDir: string, exporterKey: string): string {
  return join(storageDir, exporterKey.replace(/[^A-Za-z0-9._-]/g, '_'));
}

export class PersistentQueueStore implements QueueStore {
  /** Marks a store whose leftovers stay queued across a shutdown instead of being counted as failed. */
  readonly persistent = true;
  readonly capacity: number;
  private readonly db: RootDatabase<Buffer, number>;
  private readonly lock: DirectoryLock;
  private readonly maxBytes: number;
  private readonly durable: boolean;
  // Keys waiting to be taken, oldest first (a growable FIFO: head index into an array).
  private pending: number[] = [];
  private head = 0;
  private readonly recordBytes = new Map<number, number>();
  private readonly inflight = new WeakMap<QueueEntry, number>();
  private storedBytes = 0;
  private reservedBytes = 0;
  private reservedCount = 0;
  private nextKey = 1;
  private closed = false;
  /** The queue's directory (one per exporter under storage_dir). */
  get directory(): string {
    return this.options.directory;
  }
  /** Batches and items found on disk at open: accepted by an earlier run, sent by this one. */
  readonly recovered: { batches: number; items: number };

  constructor(private readonly options: PersistentQueueStoreOptions) {
    this.capacity = options.capacity;
    this.maxBytes = options.maxBytes;
    this.durable = options.durable ?? true;
    const failed = (err: unknown): SondeError =>
      permanentError('SONDE_QUEUE_STORAGE_FAILED', `cannot open the persistent queue in ${options.directory}: ${(err as Error).message}`, {
        hint: 'Check that sending_queue.storage_dir is writable by Sonde and not used by another Sonde process.',
        cause: err,
      });
    try {
      mkdirSync(options.directory, { recursive: true });
    } catch (err) {
      throw failed(err);
    }
    // Before LMDB opens the file: a second process must not read or write this queue at all.
    this.lock = lockDirectory(options.directory);
    try {
      this.db = open<Buffer, number>({ path: join(options.directory, QUEUE_FILE), encoding: 'binary', compression: false });
    } catch (err) {
      this.lock.release();
      throw failed(err);
    }
    let items = 0;
    for (const { key, value } of this.db.getRange({})) {
      this.pending.push(key);
      this.recordBytes.set(key, value.length);
      this.storedBytes += value.length;
      if (value.length >= 8) items += value.readUInt32LE(4);
      this.nextKey = key + 1;
    }
    this.recovered = { batches: this.pending.length, items };
  }

  size(): number {
    return this.pending.length - this.head;
  }

  /** Bytes of records on disk (waiting and in flight). */
  bytes(): number {
    return this.storedBytes;
  }

  async offer(entry: QueueEntry): Promise<boolean> {
    if (this.closed) return false;
    if (this.size() + this.reservedCount >= this.capacity) return false; // before serializing: cheap
    const record = encodeEntry(entry.batch, entry.items);
    if (record.length > this.maxBytes) {
      throw permanentError('SONDE_QUEUE_ENTRY_TOO_LARGE', `a batch of ${record.length} bytes cannot fit in the persistent queue (max_size ${this.maxBytes} bytes)`, {
        hint: 'Raise sending_queue.max_size, or send smaller batches (batch processor send_batch_max_size).',
      });
    }
    if (this.storedBytes + this.reservedBytes + record.length > this.maxBytes) return false;
    // Reserve room before the write so concurrent offers cannot overfill the store.
    const key = this.nextKey++;
    this.reservedCount++;
    this.reservedBytes += record.length;
    try {
      await this.db.put(key, record);
      if (this.durable) await this.db.flushed;
    } catch (err) {
      throw retryableError('SONDE_QUEUE_STORAGE_FAILED', `cannot write to the persistent queue in ${this.options.directory}: ${(err as Error).message}`, {
        hint: 'Check free space and permissions of sending_queue.storage_dir.',
        cause: err,
      });
    } finally {
      this.reservedCount--;
      this.reservedBytes -= record.length;
    }
    if (this.closed) return true; // on disk: the next run sends it
    this.recordBytes.set(key, record.length);
    this.storedBytes += record.length;
    this.pending.push(key);
    return true;
  }

  async take(): Promise<QueueEntry | undefined> {
    while (!this.closed && this.size() > 0) {
      const key = this.pending[this.head++]!;
      this.compact();
      const bytes = this.db.getBinary(key);
      const decoded = bytes ? decodeEntry(bytes) : { ok: false as const, reason: 'record missing' };
      if (decoded.ok) {
        const entry: QueueEntry = { batch: decoded.batch, items: decoded.items };
        this.inflight.set(entry, key);
        return entry;
      }
      this.options.logger.error({ code: 'SONDE_QUEUE_CORRUPT_ENTRY', key, reason: decoded.reason, directory: this.options.directory }, 'persistent queue: unreadable record deleted');
      this.options.onCorrupt?.(bytes && bytes.length >= 8 ? bytes.readUInt32LE(4) : 0, decoded.reason);
      await this.remove(key);
    }
    return undefined;
  }

  async done(entry: QueueEntry): Promise<void> {
    const key = this.inflight.get(entry);
    if (key === undefined) return;
    this.inflight.delete(entry);
    await this.remove(key);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.db.close();
    } finally {
      this.lock.release();
    }
  }

  private async remove(key: number): Promise<void> {
    const size = this.recordBytes.get(key) ?? 0;
    this.recordBytes.delete(key);
    this.storedBytes -= size;
    if (this.closed) return;
    await this.db.remove(key);
  }

  // Drop the consumed prefix of `pending` now and then, so the array does not grow forever.
  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
  }
}
