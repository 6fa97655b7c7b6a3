import type { ExporterFactory } from '../../component/types.js';
import { FileExporter, type FileConfig } from './file-exporter.js';

export const fileExporterFactory: ExporterFactory<FileConfig> = {
  kind: 'exporter',
  type: 'file',
  stability: 'beta',
  signals: ['traces', 'metrics'],
  description: 'Appends one OTLP/JSON export request per line to a file.',
  configSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: { type: 'string', minLength: 1, description: 'File to append to; relative paths are resolved against the config file directory. Parent directories are created.' },
    },
  },
  createDefaultConfig: () => ({ path: '' }),
  create: (settings, config) => new FileExporter(settings, config),
};
