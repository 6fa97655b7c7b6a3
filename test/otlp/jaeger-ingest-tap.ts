// Every copy of every span Jaeger accepts, counted. Jaeger cannot show duplicates itself: its query
// API drops identical spans (the DeduplicateSpans adjuster) and badger keys a span by trace id,
// start time and span id, so a span delivered twice is stored once. The tap is a second exporter in
// Jaeger's traces pipeline (its own otlphttp exporter, no queue, no retry: synchronous with the
// receiver's answer) pointing at a server in the test process, which outlives Jaeger's restarts.
import { createServer, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { parse, stringify } from 'yaml';
import { decodeOtlpRequest } from '../../src/pdata/otlp/decode.js';
import { freePort } from '../helpers/free-port.js';

export class JaegerIngestTap {
  /** `traceId/spanId` -> how many copies Jaeger accepted. */
  private readonly copies = new Map<string, number>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<JaegerIngestTap> {
    let tap: JaegerIngestTap | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
        const { batch } = decodeOtlpRequest('traces', body, req.headers['content-type']?.includes('json') ? 'json' : 'protobuf');
        if (batch.signal === 'traces') {
          for (const rs of batch.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) tap!.count(`${s.traceId}/${s.spanId}`);
        }
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    tap = new JaegerIngestTap(server, port);
    return tap;
  }

  private count(key: string): void {
    this.copies.set(key, (this.copies.get(key) ?? 0) + 1);
  }

  /** How many copies of each span of `traceId` Jaeger accepted (span id -> copies). */
  spanCopies(traceId: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const [key, n] of this.copies) {
      const [trace, span] = key.split('/') as [string, string];
      if (trace === traceId) out.set(span, n);
    }
    return out;
  }

  /** Jaeger's config (YAML) with the tap added to its traces pipeline. */
  addTo(configYaml: string): string {
    const config = parse(configYaml) as {
      exporters: Record<string, unknown>;
      service: { pipelines: { traces: { exporters: string[] } } };
    };
    config.exporters['otlphttp/sonde-test-tap'] = {
      endpoint: `http://127.0.0.1:${this.port}`,
      compression: 'none',
      sending_queue: { enabled: false },
      retry_on_failure: { enabled: false },
    };
    config.service.pipelines.traces.exporters.push('otlphttp/sonde-test-tap');
    return stringify(config);
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}
