import type { JsonSchema } from '../component/types.js';

/** The `service:` section, minus `pipelines`, whose references are checked by hand. */
export const telemetrySchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  description: "Sonde's own logs and metrics.",
  properties: {
    logs: {
      type: 'object',
      additionalProperties: false,
      description: 'Structured JSON logs on stderr.',
      properties: {
        level: { enum: ['debug', 'info', 'warn', 'error'], default: 'info', description: 'Lowest level written.' },
      },
    },
    metrics: {
      type: 'object',
      additionalProperties: false,
      description: 'The admin endpoint: /metrics, /healthz, /readyz.',
      properties: {
        address: { type: 'string', format: 'hostport', default: '127.0.0.1:8888', description: 'host:port the admin endpoint listens on; an empty host listens on every address.' },
      },
    },
  },
};

export const pipelineSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['receivers', 'exporters'],
  properties: {
    receivers: { type: 'array', items: { type: 'string' }, minItems: 1 },
    processors: { type: 'array', items: { type: 'string' } },
    exporters: { type: 'array', items: { type: 'string' }, minItems: 1 },
  },
};

export const DEFAULT_ADMIN_ADDRESS = '127.0.0.1:8888';
