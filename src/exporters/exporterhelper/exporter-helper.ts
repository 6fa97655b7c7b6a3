// The exporter helper: a plain push wrapped in timeout -> retry -> bounded queue, with every
// outcome counted in Sonde's own metrics. Every network exporter is built with it.
import type { CreateSettings, Exporter } from '../../component/types.js';
import { SondeError, permanentError, retryableError } from '../../errors/index.js';
import { countItems } from '../../pdata/count.js';
import type { TelemetryBatch } from '../../pdata/types.js';
import { resolveExporterHelperConfig, type ExporterHelperConfig, type ResolvedHelperConfig } from './config.js';
import type { ExportResult, PushFn } from './export-result.js';
import { resolve as resolvePath } from 'node:path';
import { PersistentQueueStore, queueDirectory } from './persistent-queue-store.js';
import { MemoryQueueStore, type QueueEntry, type QueueStore } from './queue-store.js';
import { sleep as realSleep, withRetry, type RetryHooks } from './retry.js';
import { SendingQueue, type HandleOutcome } from './sending-queue.js';
import { attemptWithTimeout } from './timeout.js';

export interface ExporterHelperOptions {
  settings: Pick<CreateSettings, 'id' | 'logger' | 'telemetry'> & Partial<Pick<CreateSettings, 'configDir' | 'shutdownTimeoutMs'>>;
  config: ExporterHelperConfig;
  /** Sends one batch once; see PushFn. */
  push: PushFn;
  /** Opens connections etc.; runs before the queue consumers start. */
  start?: () => Promise<void>;
  /** Closes connections; runs after the queue was drained. */
  shutdown?: () => Promise<void>;
  /** How long shutdown() keeps sending what is queued before giving up (default: 80 % of the service's shutdown deadline, else 5 s). */
  drainTimeoutMs?: number;
  /** A different store for the queue; by default the in-memory ring, or the persistent store when sending_queue.storage_dir is set. */
  store?: QueueStore;
  /** Test hooks: clock, randomness and sleep used by the retry layer. */
  hooks?: Partial<Pick<RetryHooks, 'now' | 'random' | 'sleep'>>;
}

// Items a persistent queue left on disk at shutdown, per process telemetry (one per process,
// kept across reloads) and queue directory. The instance a SIGHUP reload creates on the same
// directory takes them over without counting them as recovered: this process already counted
// them as received, and sonde_exporter_queue_recovered_items_total is for what an earlier run left.
const leftOnDisk = new WeakMap<object, Map<string, number>>();

// Without a service deadline (a helper used on its own): how long shutdown() drains.
export const DEFAULT_DRAIN_TIMEOUT_MS = 5_000;
// With one (`sonde run --shutdown-timeout`): drain for this share of it, so the helper gives up
// first and counts what it drops before the service stops waiting.
const DRAIN_SHARE_OF_DEADLINE = 0.8;

/**
 * Builds an Exporter around `push`. consume() resolves once the batch is queued (or, with the
 * queue disabled, once it was sent); it rejects with SONDE_QUEUE_FULL (retryable) under
 * when_full: drop_newest, and with the final export error when the queue is disabled.
 */
export function createExporterHelper(options: ExporterHelperOptions): Exporter {
  const resolved: ResolvedHelperConfig = resolveExporterHelperConfig(options.config);
  const { id, logger, telemetry } = options.settings;
  const labels = { exporter: id.key };
  const hooks: RetryHooks = {
    now: options.hooks?.now ?? Date.now,
    random: options.hooks?.random ?? Math.random,
    sleep: options.hooks?.sleep ?? realSleep,
    onRetry: (result, delayMs) => {
      telemetry.exporterRetries.inc(labels);
      if (result.kind === 'retryable') logger.debug({ exporter: id.key, delayMs, err: result.error.message }, 'export failed, will retry');
    },
  };
  // Aborted when shutdown gives up: cancels retry waits and in-flight requests.
  const abort = new AbortController();
  // Persistent queue: aborted as shutdown begins, so retry waits end at once (the batch stays on
  // disk for the next run) while attempts already on the wire may still finish.
  const stopRetrying = new AbortController();
  abort.signal.addEventListener('abort', () => stopRetrying.abort(abort.signal.reason), { once: true });
  const inflight = new Set<Promise<void>>();
  let started = false;
  let shutdownPromise: Promise<void> | undefined;
  let deadlineReached = false;

  const account = (result: ExportResult, items: number): void => {
    switch (result.kind) {
      case 'success':
        telemetry.exporterSent.inc(labels, items);
        return;
      case 'partial': {
        const rejected = Math.min(items, Math.max(0, result.rejected));
        telemetry.exporterSent.inc(labels, items - rejected);
        telemetry.exporterSendFailed.inc(labels, rejected);
        logger.warn({ exporter: id.key, rejected, message: result.message }, 'backend accepted the export partially (SONDE_EXPORT_PARTIAL)');
        return;
      }
      default:
        telemetry.exporterSendFailed.inc(labels, items);
        if (deadlineReached && result.kind === 'retryable') {
          // Still being retried when the drain ended: the same account as what was left queued.
          logger.error({ exporter: id.key, code: 'SONDE_SHUTDOWN_TIMEOUT', items, err: result.error.message }, `exporter ${id.key}: ${items} items in flight not sent before the shutdown deadline`);
          return;
        }
        logger.warn(
          { exporter: id.key, items, code: result.error.code, err: result.error.message },
          result.kind === 'retryable' ? 'export failed; retries exhausted or stopped, data dropped' : 'export refused for good, data dropped',
        );
    }
  };

  const attempt = (batch: TelemetryBatch, retrySignal: AbortSignal): Promise<ExportResult> =>
    withRetry(() => attemptWithTimeout(options.push, batch, resolved.timeoutMs, abort.signal), resolved.retry, retrySignal, hooks);

  const send = async (batch: TelemetryBatch, items: number): Promise<ExportResult> => {
    const result = await attempt(batch, abort.signal);
    account(result, items);
    return result;
  };

  // Items accepted into the queue and not yet sent or given up on (sonde_exporter_queue_items):
  // with the counters, every accepted item is in exactly one place at any time.
  const queueItemsGauge = telemetry.gauge('sonde_exporter_queue_items', 'Items in an exporter queue: waiting, or being sent.', ['exporter']);
  let queuedItems = 0;
  const addQueued = (n: number): void => {
    queuedItems += n;
    queueItemsGauge.set(labels, queuedItems);
  };

  // A stored record that cannot be read back is gone: its items (from its header) count as failed.
  const onCorrupt = (items: number): void => {
    telemetry.exporterSendFailed.inc(labels, items);
    addQueued(-items);
  };
  const store = resolved.queue ? (options.store ?? createStore(options, resolved.queue, onCorrupt)) : undefined;
  const persistent = store?.persistent === true;
  const queue =
    resolved.queue && store
      ? new SendingQueue(
          store,
          resolved.queue.consumers,
          resolved.queue.whenFull,
          async (entry: QueueEntry): Promise<HandleOutcome> => {
            const result = await attempt(entry.batch, persistent ? stopRetrying.signal : abort.signal);
            // Shutting down with a persistent queue: a batch not sent stays on disk for the next run.
            if (persistent && result.kind === 'retryable' && stopRetrying.signal.aborted) return 'keep';
            // Counted and removed from the queue in the same tick, so /metrics never sees it twice or not at all.
            account(result, entry.items);
            addQueued(-entry.items);
            return 'done';
          },
          (size) => telemetry.exporterQueueSize.set(labels, size),
        )
      : undefined;
  telemetry.exporterQueueCapacity.set(labels, queue ? queue.capacity : 0);
  telemetry.exporterQueueSize.set(labels, store?.size() ?? 0);
  addQueued(0);
  const recoveredCounter = telemetry.counter(
    'sonde_exporter_queue_recovered_items_total',
    'Items found in a persistent queue at start, accepted by an earlier run of Sonde; they are sent by this one.',
    ['exporter'],
  );
  recoveredCounter.inc(labels, 0);
  if (store instanceof PersistentQueueStore && store.recovered.batches > 0) {
    const handed = leftOnDisk.get(telemetry)?.get(store.directory) ?? 0;
    leftOnDisk.get(telemetry)?.delete(store.directory);
    const fromEarlierRun = Math.max(0, store.recovered.items - handed);
    recoveredCounter.inc(labels, fromEarlierRun);
    addQueued(store.recovered.items);
    logger.info(
      { exporter: id.key, batches: store.recovered.batches, items: store.recovered.items, fromEarlierRun },
      fromEarlierRun > 0 ? 'persistent queue: sending what an earlier run left on disk' : 'persistent queue: taking over what this process left on disk before the reload',
    );
  }

  const stoppedError = (): SondeError =>
    retryableError('SONDE_EXPORTER_STOPPED', `exporter ${id.key} is shut down and takes no more data`, {
      hint: 'Data arrived during shutdown or a reload; the sender may retry.',
    });

  // Drain within the service's shutdown deadline (with room to count what is left), so nothing
  // queued in memory is lost uncounted when the process exits at the deadline.
  const deadline = options.settings.shutdownTimeoutMs;
  const drainMs = options.drainTimeoutMs ?? (deadline !== undefined ? Math.floor(deadline * DRAIN_SHARE_OF_DEADLINE) : DEFAULT_DRAIN_TIMEOUT_MS);
  const drainDeadline = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, drainMs).unref());

  return {
    mutatesData: false,

    async start(): Promise<void> {
      if (started || shutdownPromise) return;
      started = true;
      await options.start?.();
      queue?.start();
    },

    async consume(batch: TelemetryBatch): Promise<void> {
      if (shutdownPromise) throw stoppedError();
      const items = countItems(batch);
      if (items === 0) return;
      if (queue) {
        let outcome;
        try {
          outcome = await queue.enqueue({ batch, items }, () => addQueued(items));
        } catch (err) {
          // The store cannot take it (persistent queue: batch over max_size, disk error).
          telemetry.exporterEnqueueFailed.inc(labels, items);
          throw err;
        }
        if (outcome === 'queued') return;
        if (outcome === 'closed') throw stoppedError();
        telemetry.exporterEnqueueFailed.inc(labels, items);
        throw retryableError('SONDE_QUEUE_FULL', `exporter ${id.key}: sending queue full (${queue.capacity} batches), ${items} items dropped`, {
          hint: 'Raise sending_queue.queue_size or num_consumers, or use when_full: block.',
        });
      }
      let done!: () => void;
      const tracked = new Promise<void>((resolve) => (done = resolve));
      inflight.add(tracked);
      try {
        const result = await send(batch, items);
        if (result.kind === 'retryable' || result.kind === 'permanent') throw result.error;
      } finally {
        inflight.delete(tracked);
        done();
      }
    },

    shutdown(): Promise<void> {
      shutdownPromise ??= (async () => {
        const deadline = drainDeadline();
        if (persistent) stopRetrying.abort(new Error('shutting down; the persistent queue keeps the rest'));
        let complete = true;
        // Never started: the push has no connection, so whatever was queued is counted as lost below.
        if (queue && started) complete = await queue.drain(deadline);
        if (inflight.size > 0) {
          complete = (await Promise.race([Promise.all(inflight).then(() => true), deadline.then(() => false)])) && complete;
        }
        if (!complete) {
          deadlineReached = true;
          abort.abort(new Error('shutdown deadline reached'));
        }
        if (queue) {
          const left = await queue.stop();
          if (persistent && queue.size() + queuedItems > 0) {
            logger.info({ exporter: id.key, batches: queue.size(), items: queuedItems }, 'persistent queue: unsent data stays on disk for the next run');
            if (store instanceof PersistentQueueStore) {
              let dirs = leftOnDisk.get(telemetry);
              if (!dirs) leftOnDisk.set(telemetry, (dirs = new Map()));
              dirs.set(store.directory, queuedItems);
            }
          }
          const items = left.reduce((n, e) => n + e.items, 0);
          if (items > 0) {
            addQueued(-items);
            telemetry.exporterSendFailed.inc(labels, items);
            const err = permanentError('SONDE_SHUTDOWN_TIMEOUT', `exporter ${id.key}: ${items} queued items not sent before the shutdown deadline`);
            logger.error({ exporter: id.key, code: err.code, items }, err.message);
          }
        }
        abort.abort(new Error('exporter shut down'));
        await options.shutdown?.();
      })();
      return shutdownPromise;
    },
  };
}

function createStore(options: ExporterHelperOptions, queue: NonNullable<ResolvedHelperConfig['queue']>, onCorrupt: (items: number) => void): QueueStore {
  if (queue.storageDir === undefined) return new MemoryQueueStore(queue.capacity);
  const { id, logger, configDir } = options.settings;
  const base = resolvePath(configDir ?? process.cwd(), queue.storageDir);
  return new PersistentQueueStore({
    directory: queueDirectory(base, id.key),
    capacity: queue.capacity,
    maxBytes: queue.maxBytes,
    logger,
    onCorrupt,
  });
}
