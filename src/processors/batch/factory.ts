import type { ProcessorFactory } from '../../component/types.js';
import { BatchProcessor } from './batch-processor.js';
import { batchConfigSchema, defaultBatchConfig, type BatchConfig } from './config.js';

export const batchProcessorFactory: ProcessorFactory<BatchConfig> = {
  kind: 'processor',
  type: 'batch',
  stability: 'beta',
  signals: ['traces', 'metrics'],
  description: 'Groups spans and data points into larger batches by size or time before export.',
  configSchema: batchConfigSchema,
  createDefaultConfig: defaultBatchConfig,
  create(settings, config, next) {
    const dropped = settings.telemetry.processorDropped.labels(settings.id.key, settings.pipeline);
    dropped.inc(0); // the series exists from start-up, so a scrape shows 0 rather than nothing
    return new BatchProcessor(config, next, settings.logger, dropped);
  },
};
