// The settings every network exporter shares, keyed as in the OpenTelemetry Collector:
// timeout, retry_on_failure, sending_queue. Schema fragments here are spread into each
// exporter's own schema; resolveExporterHelperConfig turns them into milliseconds once.
import type { JsonSchema } from '../../component/types.js';
import { durationSchema, parseDuration, parseSize, sizeSchema } from '../../config/units.js';

export type Duration = string | 0;

export interface RetryConfig {
  enabled: boolean;
  initial_interval: Duration;
  max_interval: Duration;
  max_elapsed_time: Duration;
}

export type WhenFull = 'block' | 'drop_newest';

export interface QueueConfig {
  enabled: boolean;
  queue_size: number;
  num_consumers: number;
  when_full: WhenFull;
  storage_dir?: string;
  /** Persistent queue only: most bytes kept on disk (default 256MiB). */
  max_size?: string | number;
}

export interface ExporterHelperConfig {
  timeout: Duration;
  retry_on_failure: RetryConfig;
  sending_queue: QueueConfig;
}

export function defaultExporterHelperConfig(): ExporterHelperConfig {
  return {
    timeout: '5s',
    retry_on_failure: { enabled: true, initial_interval: '5s', max_interval: '30s', max_elapsed_time: '300s' },
    sending_queue: { enabled: true, queue_size: 1000, num_consumers: 10, when_full: 'block', max_size: '256MiB' },
  };
}

/** JSON-schema properties `timeout`, `retry_on_failure`, `sending_queue`, to spread into an exporter schema. */
export function exporterHelperSchemaProperties(): Record<string, JsonSchema> {
  const d = defaultExporterHelperConfig();
  return {
    timeout: durationSchema('Time limit for one export attempt (one request to the backend); 0 disables the limit.', d.timeout as string),
    retry_on_failure: {
      type: 'object',
      description: 'Retries of failed exports, with exponential backoff and jitter. Only failures the OTLP specification calls retryable are retried (HTTP 429/502/503/504, gRPC UNAVAILABLE and similar); a Retry-After header or gRPC RetryInfo from the backend is honoured.',
      default: d.retry_on_failure,
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean', description: 'Retry failed exports. When false, a failed export is dropped and counted at once.', default: true },
        initial_interval: durationSchema('Wait before the first retry; each later wait is 1.5 times longer, randomised by +/-50%.', d.retry_on_failure.initial_interval as string),
        max_interval: durationSchema('Upper bound of the wait between two retries.', d.retry_on_failure.max_interval as string),
        max_elapsed_time: durationSchema('Give up on a batch after this long since its first attempt (it is then counted in sonde_exporter_send_failed_items_total); 0 retries until shutdown.', d.retry_on_failure.max_elapsed_time as string),
      },
    },
    sending_queue: {
      type: 'object',
      description: 'Bounded queue between the pipeline and the backend: consume() returns once a batch is queued, and consumers send in the background.',
      default: d.sending_queue,
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean', description: 'Queue batches. When false, the pipeline waits for each export (with its retries) to finish.', default: true },
        queue_size: { type: 'integer', minimum: 1, description: 'Capacity of the queue, in batches.', default: d.sending_queue.queue_size },
        num_consumers: { type: 'integer', minimum: 1, description: 'Batches sent concurrently.', default: d.sending_queue.num_consumers },
        when_full: {
          enum: ['block', 'drop_newest'],
          description: 'What happens to a new batch when the queue is full: `block` makes the pipeline wait for room (back-pressure up to the receivers); `drop_newest` refuses it with SONDE_QUEUE_FULL and counts its items in sonde_exporter_enqueue_failed_items_total.',
          default: d.sending_queue.when_full,
        },
        storage_dir: {
          type: 'string',
          minLength: 1,
          description: 'Directory for a persistent queue (LMDB) that survives restarts and `kill -9`: batches are on disk before they are accepted and deleted once sent, so delivery is at-least-once. Each exporter uses its own subdirectory; relative paths are resolved against the config file. Unset, the queue is in memory (lost on a crash). See docs/reliability.md.',
        },
        max_size: sizeSchema('Persistent queue only: most bytes of batches kept on disk (waiting and being sent); when reached, when_full applies. A single batch larger than this is refused with SONDE_QUEUE_ENTRY_TOO_LARGE.', '256MiB'),
      },
    },
  };
}

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** 0 = retry until shutdown. */
  maxElapsedMs: number;
  multiplier: number;
  /** Each wait is drawn from [w*(1-r), w*(1+r)]. */
  randomization: number;
}

export interface ResolvedHelperConfig {
  timeoutMs: number;
  retry: BackoffPolicy | undefined;
  queue: { capacity: number; consumers: number; whenFull: WhenFull; storageDir: string | undefined; maxBytes: number } | undefined;
}

export function resolveExporterHelperConfig(config: ExporterHelperConfig): ResolvedHelperConfig {
  const q = config.sending_queue;
  const r = config.retry_on_failure;
  return {
    timeoutMs: parseDuration(config.timeout),
    retry: r.enabled
      ? {
          initialMs: parseDuration(r.initial_interval),
          maxMs: parseDuration(r.max_interval),
          maxElapsedMs: parseDuration(r.max_elapsed_time),
          multiplier: 1.5,
          randomization: 0.5,
        }
      : undefined,
    queue: q.enabled
      ? { capacity: q.queue_size, consumers: q.num_consumers, whenFull: q.when_full, storageDir: q.storage_dir, maxBytes: parseSize(q.max_size ?? '256MiB') }
      : undefined,
  };
}
