import type { ProcessorFactory } from '../../component/types.js';
import { configSchema, createDefaultConfig, type ResourceDetectionConfig } from './config.js';
import { ResourceDetectionProcessor } from './processor.js';

export const resourceDetectionProcessorFactory: ProcessorFactory<ResourceDetectionConfig> = {
  kind: 'processor',
  type: 'resourcedetection',
  stability: 'alpha',
  signals: ['traces', 'metrics'],
  description: 'Adds host attributes (host.name, host.id, os.type) and, for resources carrying process.pid, process attributes read from /proc.',
  configSchema,
  createDefaultConfig,
  create(settings, config, next) {
    const defaults = createDefaultConfig();
    const merged: ResourceDetectionConfig = { ...defaults, ...config, process: { ...defaults.process, ...(config.process ?? {}) } };
    return new ResourceDetectionProcessor(settings, merged, next);
  },
};
