// Factory of the `ebpf` receiver (registered in src/components.ts).
import type { Receiver, ReceiverFactory } from '../../component/types.js';
import { completeEbpfConfig, createDefaultEbpfConfig, ebpfConfigIssues, ebpfConfigSchema, type EbpfConfig } from './config.js';
import { EbpfReceiver } from './receiver.js';

export const ebpfReceiverFactory: ReceiverFactory<EbpfConfig> = {
  kind: 'receiver',
  type: 'ebpf',
  stability: 'alpha',
  signals: ['metrics', 'traces'],
  description: 'Captures TCP connections and HTTP requests of every process on the host with eBPF; no code changes.',
  configSchema: ebpfConfigSchema,
  createDefaultConfig: createDefaultEbpfConfig,
  validateConfig: (config) => ebpfConfigIssues(completeEbpfConfig(config)),
  create(settings, config, next): Receiver {
    return new EbpfReceiver(settings, config, next);
  },
};
