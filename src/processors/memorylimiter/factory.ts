import type { ProcessorFactory } from '../../component/types.js';
import { defaultMemoryLimiterConfig, memoryLimiterConfigIssues, memoryLimiterSchema, resolveMemoryLimits, type MemoryLimiterConfig } from './config.js';
import { MemoryLimiter } from './memory-limiter.js';
import { availableBytes } from './memory-source.js';

export const memoryLimiterProcessorFactory: ProcessorFactory<MemoryLimiterConfig> = {
  kind: 'processor',
  type: 'memory_limiter',
  stability: 'beta',
  signals: ['traces', 'metrics'],
  description: 'Refuses data (retryable) while the process memory is above a soft limit, and forces a GC above the hard limit, so overload never ends in an out-of-memory crash.',
  configSchema: memoryLimiterSchema,
  createDefaultConfig: defaultMemoryLimiterConfig,
  validateConfig: memoryLimiterConfigIssues,
  create: (settings, config, next) => new MemoryLimiter(settings, resolveMemoryLimits(config, availableBytes()), next),
};
