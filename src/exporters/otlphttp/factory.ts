import type { ExporterFactory } from '../../component/types.js';
import { defaultExporterHelperConfig, exporterHelperSchemaProperties } from '../exporterhelper/index.js';
import { clientSchemaProperties, defaultTlsConfig } from '../otlp/client-config.js';
import { createOtlpHttpExporter, type OtlpHttpConfig } from './http-exporter.js';

const url = (description: string): Record<string, unknown> => ({ type: 'string', pattern: '^https?://', description });

export const otlpHttpExporterFactory: ExporterFactory<OtlpHttpConfig> = {
  kind: 'exporter',
  type: 'otlphttp',
  stability: 'beta',
  signals: ['traces', 'metrics'],
  description: 'Sends traces and metrics over OTLP/HTTP (protobuf or JSON), with a sending queue and retries.',
  configSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['endpoint'],
    properties: {
      endpoint: url('Base URL of the backend, e.g. `http://jaeger:4318`; /v1/traces and /v1/metrics are appended. https:// uses TLS.'),
      traces_endpoint: url('Full URL for traces, used as is instead of endpoint + /v1/traces.'),
      metrics_endpoint: url('Full URL for metrics, used as is instead of endpoint + /v1/metrics.'),
      encoding: { enum: ['proto', 'json'], description: 'Body encoding: `proto` (application/x-protobuf) or `json` (OTLP/JSON).', default: 'proto' },
      ...clientSchemaProperties('http'),
      ...exporterHelperSchemaProperties(),
    },
  },
  createDefaultConfig: () => ({ endpoint: '', encoding: 'proto', tls: defaultTlsConfig(), headers: {}, compression: 'gzip', ...defaultExporterHelperConfig() }),
  create: (settings, config) => createOtlpHttpExporter(settings, config),
};
