// Config fragment both Prometheus exporters share.
import type { JsonSchema } from '../../component/types.js';
import type { ResourceCopy } from './resource.js';

export interface ResourceToTelemetryConfig {
  enabled: boolean;
  attributes: string[];
}

export function resourceToTelemetrySchema(): JsonSchema {
  return {
    type: 'object',
    additionalProperties: false,
    description:
      'Copy resource attributes onto every series as labels (as the Collector option of the same name). Without it, resource attributes are only on target_info, joined on job and instance.',
    default: { enabled: false, attributes: [] },
    properties: {
      enabled: { type: 'boolean', description: 'Copy resource attributes onto every series; data point attributes of the same name win.', default: false },
      attributes: {
        type: 'array',
        items: { type: 'string', minLength: 1 },
        uniqueItems: true,
        description: 'Resource attribute keys to copy (e.g. `k8s.pod.name`); empty copies every resource attribute.',
        default: [],
      },
    },
  };
}

export function toResourceCopy(c: ResourceToTelemetryConfig | undefined): ResourceCopy {
  return { enabled: c?.enabled ?? false, attributes: c?.attributes ?? [] };
}
