export {
  defaultExporterHelperConfig,
  exporterHelperSchemaProperties,
  resolveExporterHelperConfig,
  type ExporterHelperConfig,
  type RetryConfig,
  type QueueConfig,
  type WhenFull,
} from './config.js';
export { SUCCESS, permanent, retryable, resultFromError, type ExportResult, type PushFn } from './export-result.js';
export { createExporterHelper, DEFAULT_DRAIN_TIMEOUT_MS, type ExporterHelperOptions } from './exporter-helper.js';
export { MemoryQueueStore, type QueueEntry, type QueueStore } from './queue-store.js';
export { PersistentQueueStore, queueDirectory, type PersistentQueueStoreOptions } from './persistent-queue-store.js';
