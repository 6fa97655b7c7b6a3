import type { ExporterFactory } from '../../component/types.js';
import { type RemoteWriteConfig, defaultRemoteWriteConfig, remoteWriteSchema } from './config.js';
import { createRemoteWriteExporter } from './remote-write-exporter.js';

export const prometheusRemoteWriteExporterFactory: ExporterFactory<RemoteWriteConfig> = {
  kind: 'exporter',
  type: 'prometheusremotewrite',
  stability: 'alpha',
  signals: ['metrics'],
  description: 'Sends metrics to a Prometheus remote-write 1.0 endpoint (protobuf, snappy), with retry and a bounded queue.',
  configSchema: remoteWriteSchema(),
  createDefaultConfig: defaultRemoteWriteConfig,
  create: (settings, config) => createRemoteWriteExporter(settings, config),
};
