// Config of the `prometheus` exporter (scrape endpoint), keyed as in the Collector's.
import type { JsonSchema } from '../../component/types.js';
import { durationSchema } from '../../config/units.js';
import { resourceToTelemetrySchema, type ResourceToTelemetryConfig } from '../prometheus-naming/config-schema.js';

export interface PrometheusExporterConfig {
  endpoint: string;
  path: string;
  namespace: string;
  send_timestamps: boolean;
  metric_expiration: string | 0;
  resource_to_telemetry_conversion: ResourceToTelemetryConfig;
}

export function defaultPrometheusExporterConfig(): PrometheusExporterConfig {
  return {
    endpoint: '127.0.0.1:9464',
    path: '/metrics',
    namespace: '',
    send_timestamps: false,
    metric_expiration: '5m',
    resource_to_telemetry_conversion: { enabled: false, attributes: [] },
  };
}

export function prometheusExporterSchema(): JsonSchema {
  const d = defaultPrometheusExporterConfig();
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      endpoint: {
        type: 'string',
        pattern: '^(\\[[0-9a-fA-F:.]+\\]|[^:\\s]*):[0-9]{1,5}$',
        description: 'host:port the scrape endpoint listens on; `[::1]:9464` for IPv6. Port 0 picks a free port.',
        default: d.endpoint,
      },
      path: { type: 'string', pattern: '^/', description: 'HTTP path of the scrape endpoint.', default: d.path },
      namespace: {
        type: 'string',
        pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$|^$',
        description: 'Prefix added with `_` to every metric name (not to target_info).',
        default: d.namespace,
      },
      send_timestamps: {
        type: 'boolean',
        description: 'Write each sample with the time of its data point; by default Prometheus stamps samples with the scrape time.',
        default: d.send_timestamps,
      },
      metric_expiration: durationSchema(
        'A series not updated for this long is no longer served (and its delta-to-cumulative total is forgotten); 0 keeps series forever.',
        d.metric_expiration as string,
      ),
      resource_to_telemetry_conversion: resourceToTelemetrySchema(),
    },
  };
}
