import type { ExporterFactory } from '../../component/types.js';
import { defaultExporterHelperConfig, exporterHelperSchemaProperties } from '../exporterhelper/index.js';
import { clientSchemaProperties, defaultTlsConfig } from './client-config.js';
import { createOtlpGrpcExporter, type OtlpGrpcConfig } from './grpc-exporter.js';

export const otlpExporterFactory: ExporterFactory<OtlpGrpcConfig> = {
  kind: 'exporter',
  type: 'otlp',
  stability: 'beta',
  signals: ['traces', 'metrics'],
  description: 'Sends traces and metrics over OTLP/gRPC, with a sending queue and retries.',
  configSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['endpoint'],
    properties: {
      endpoint: {
        type: 'string',
        minLength: 1,
        description: 'Backend address as host:port (e.g. `jaeger:4317`); an http:// prefix means plain text, https:// means TLS.',
      },
      ...clientSchemaProperties('grpc'),
      ...exporterHelperSchemaProperties(),
    },
  },
  createDefaultConfig: () => ({ endpoint: '', tls: defaultTlsConfig(), headers: {}, compression: 'gzip', ...defaultExporterHelperConfig() }),
  create: (settings, config) => createOtlpGrpcExporter(settings, config),
};
