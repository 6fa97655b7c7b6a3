// Config of the `prometheusremotewrite` exporter: the shared network-exporter keys (timeout,
// retry_on_failure, sending_queue) plus what remote write needs.
import type { JsonSchema } from '../../component/types.js';
import { durationSchema } from '../../config/units.js';
import { defaultExporterHelperConfig, exporterHelperSchemaProperties, type ExporterHelperConfig } from '../exporterhelper/index.js';
import { resourceToTelemetrySchema, type ResourceToTelemetryConfig } from '../prometheus-naming/config-schema.js';

export interface RemoteWriteConfig extends ExporterHelperConfig {
  endpoint: string;
  headers: Record<string, string>;
  namespace: string;
  max_samples_per_request: number;
  resource_to_telemetry_conversion: ResourceToTelemetryConfig;
  target_info: { enabled: boolean };
  delta_to_cumulative: { max_stale: string | 0 };
}

export function defaultRemoteWriteConfig(): RemoteWriteConfig {
  const helper = defaultExporterHelperConfig();
  return {
    endpoint: '',
    headers: {},
    namespace: '',
    max_samples_per_request: 2000,
    resource_to_telemetry_conversion: { enabled: false, attributes: [] },
    target_info: { enabled: true },
    delta_to_cumulative: { max_stale: '1h' },
    ...helper,
    // One consumer: a retried request must reach the receiver before any newer sample of the
    // same series, or Prometheus rejects the newer-then-older samples as out of order.
    sending_queue: { ...helper.sending_queue, num_consumers: 1 },
  };
}

export function remoteWriteSchema(): JsonSchema {
  const d = defaultRemoteWriteConfig();
  const helper = exporterHelperSchemaProperties();
  const queue = helper.sending_queue as { properties: Record<string, JsonSchema>; default: unknown };
  const sendingQueue: JsonSchema = {
    ...queue,
    default: d.sending_queue,
    properties: {
      ...queue.properties,
      num_consumers: {
        type: 'integer',
        minimum: 1,
        maximum: 1,
        default: 1,
        description:
          'Requests sent concurrently. Fixed at 1 for remote write: requests go out strictly in order, so a retried request never lands after newer samples of the same series (which Prometheus would reject as out of order).',
      },
    },
  };
  return {
    type: 'object',
    additionalProperties: false,
    required: ['endpoint'],
    properties: {
      endpoint: {
        type: 'string',
        pattern: '^https?://',
        description: 'URL of the remote-write receiver, e.g. `http://127.0.0.1:9090/api/v1/write` for a Prometheus started with --web.enable-remote-write-receiver.',
      },
      headers: {
        type: 'object',
        additionalProperties: { type: 'string' },
        description: 'Extra HTTP headers on every request (e.g. Authorization, X-Scope-OrgID). The remote-write protocol headers cannot be overridden.',
        default: d.headers,
      },
      namespace: {
        type: 'string',
        pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$|^$',
        description: 'Prefix added with `_` to every metric name (not to target_info).',
        default: d.namespace,
      },
      max_samples_per_request: {
        type: 'integer',
        minimum: 1,
        description: 'Most samples in one remote-write request; a larger batch is split into several requests, sent in order. A histogram point is 3 samples plus one per bucket.',
        default: d.max_samples_per_request,
      },
      resource_to_telemetry_conversion: resourceToTelemetrySchema(),
      target_info: {
        type: 'object',
        additionalProperties: false,
        description: 'The `target_info` series: one per resource, labelled with job, instance and the other resource attributes.',
        default: d.target_info,
        properties: {
          enabled: { type: 'boolean', description: 'Send target_info for every resource that has attributes besides service.name, service.namespace and service.instance.id.', default: true },
        },
      },
      delta_to_cumulative: {
        type: 'object',
        additionalProperties: false,
        description: 'Delta sums and histograms are added up into cumulative series (Prometheus has no delta type).',
        default: d.delta_to_cumulative,
        properties: {
          max_stale: durationSchema('Forget the running total of a delta series after this long without a new point (bounds memory); its next point starts a new total, which PromQL sees as a counter reset. 0 never forgets.', '1h'),
        },
      },
      ...helper,
      timeout: durationSchema(
        'Time limit for one export attempt: sending what is left of one batch (its requests go out one after another; a retry resumes at the first request not yet accepted). 0 disables the limit.',
        d.timeout as string,
      ),
      retry_on_failure: {
        ...(helper.retry_on_failure as JsonSchema),
        description:
          'Retries with exponential backoff and jitter, for connection errors, timeouts, HTTP 429 and every 5xx (a Retry-After header is honoured). Any other 4xx is final: the request is dropped, logged once and counted, never retried.',
      },
      sending_queue: sendingQueue,
    },
  };
}
