import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Exporter, CreateSettings } from '../../component/types.js';
import { SondeError } from '../../errors/index.js';
import { countItems } from '../../pdata/count.js';
import { encodeOtlpRequest } from '../../pdata/otlp/encode.js';
import type { TelemetryBatch } from '../../pdata/types.js';

export interface FileConfig {
  path: string;
}

const NEWLINE = Buffer.from('\n');

/**
 * Appends one OTLP/JSON export request per line (the "JSON lines" form the Collector's file
 * exporter writes), so any OTLP tool can read the file back.
 */
export class FileExporter implements Exporter {
  readonly mutatesData = false;
  private stream: WriteStream | undefined;
  private readonly path: string;
  private closed = false;

  constructor(private readonly settings: CreateSettings, config: FileConfig) {
    this.path = resolve(settings.configDir, config.path);
  }

  async start(): Promise<void> {
    try {
      mkdirSync(dirname(this.path), { recursive: true });
    } catch (err) {
      throw new SondeError('SONDE_FILE_OPEN_FAILED', `cannot create the directory of ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    const stream = createWriteStream(this.path, { flags: 'a' });
    await new Promise<void>((res, rej) => {
      stream.once('open', () => res());
      stream.once('error', (err) =>
        rej(new SondeError('SONDE_FILE_OPEN_FAILED', `cannot open ${this.path} for writing: ${err.message}`, { cause: err })),
      );
    });
    stream.on('error', (err) => this.settings.logger.error({ err, path: this.path }, 'file exporter write failed'));
    this.stream = stream;
  }

  async consume(batch: TelemetryBatch): Promise<void> {
    const n = countItems(batch);
    const exporter = this.settings.id.key;
    if (!this.stream || this.closed) {
      this.settings.telemetry.exporterSendFailed.labels(exporter).inc(n);
      throw new SondeError('SONDE_EXPORT_PERMANENT', `file exporter ${exporter} is not running`);
    }
    const line = Buffer.concat([encodeOtlpRequest(batch, 'json'), NEWLINE]);
    const stream = this.stream;
    await new Promise<void>((res, rej) => {
      stream.write(line, (err) => (err ? rej(err) : res()));
    }).catch((err: Error) => {
      this.settings.telemetry.exporterSendFailed.labels(exporter).inc(n);
      throw new SondeError('SONDE_EXPORT_RETRYABLE', `writing ${this.path} failed: ${err.message}`, { retryable: true, cause: err });
    });
    this.settings.telemetry.exporterSent.labels(exporter).inc(n);
  }

  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const stream = this.stream;
    if (!stream) return;
    await new Promise<void>((res) => stream.end(() => res()));
  }
}
