import type { Exporter, ExporterFactory } from '../../component/types.js';
import { countItems } from '../../pdata/count.js';
import type { TelemetryBatch } from '../../pdata/types.js';
import { formatBatch, type Verbosity } from './format.js';

export interface DebugConfig {
  verbosity: Verbosity;
}

/** Writes each batch to stdout as text; for first runs and troubleshooting, not production. */
export const debugExporterFactory: ExporterFactory<DebugConfig> = {
  kind: 'exporter',
  type: 'debug',
  stability: 'development',
  signals: ['traces', 'metrics'],
  description: 'Prints telemetry to stdout in human-readable form.',
  configSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      verbosity: {
        enum: ['basic', 'normal', 'detailed'],
        default: 'basic',
        description: 'basic: one summary line per batch; normal: one line per span or data point; detailed: every attribute, event and link.',
      },
    },
  },
  createDefaultConfig: () => ({ verbosity: 'basic' }),
  create(settings, config): Exporter {
    const sent = settings.telemetry.exporterSent.labels(settings.id.key);
    const write = (text: string): void => {
      process.stdout.write(`${text}\n`);
    };
    return {
      mutatesData: false,
      async start() {},
      async shutdown() {},
      async consume(batch: TelemetryBatch) {
        write(formatBatch(batch, config.verbosity));
        sent.inc(countItems(batch));
      },
    };
  },
};
