// Compression on the wire. gRPC: a plain node:http2 server speaking just enough gRPC for a unary
// Export records the request headers and the message frame as sent (grpc-js servers strip
// grpc-encoding from the metadata and decompress before a handler sees anything). HTTP: a plain
// server records content-encoding and the raw body.
import { createServer as createHttp2Server, type Http2Server, type IncomingHttpHeaders } from 'node:http2';
import { createServer as createHttpServer, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { otlpExporterFactory } from '../../src/exporters/otlp/factory.js';
import { GRPC_EXPORT_METHODS } from '../../src/exporters/otlp/grpc-exporter.js';
import { otlpHttpExporterFactory } from '../../src/exporters/otlphttp/factory.js';
import { decodeOtlpRequest } from '../../src/pdata/otlp/decode.js';
import type { Signal } from '../../src/pdata/types.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import { freePort } from '../helpers/free-port.js';
import { sampleMetrics, sampleTraces } from './fixtures.js';
import { NO_RETRY, counterValue, settingsFor } from './harness.js';

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const telemetry = new SelfTelemetry({ processMetrics: false });

interface GrpcSeen {
  path: string;
  encoding: string | undefined;
  /** The compressed-flag byte of the length-prefixed message. */
  compressedFlag: number;
  isGzip: boolean;
  items: number;
}

interface HttpSeen {
  path: string;
  encoding: string | undefined;
  isGzip: boolean;
  items: number;
}

const signalOf = (path: string): Signal => (path === GRPC_EXPORT_METHODS.metrics || path === '/v1/metrics' ? 'metrics' : 'traces');

let grpc: Http2Server;
let grpcPort: number;
const grpcSeen: GrpcSeen[] = [];
let http: Server;
let httpPort: number;
const httpSeen: HttpSeen[] = [];

beforeAll(async () => {
  grpc = createHttp2Server();
  grpc.on('stream', (stream, headers: IncomingHttpHeaders) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const frame = Buffer.concat(chunks);
      const flag = frame[0]!;
      const message = frame.subarray(5, 5 + frame.readUInt32BE(1));
      const path = String(headers[':path']);
      const encoding = headers['grpc-encoding'] as string | undefined;
      const plain = flag === 1 && encoding === 'gzip' ? gunzipSync(message) : message;
      grpcSeen.push({ path, encoding, compressedFlag: flag, isGzip: message.subarray(0, 2).equals(GZIP_MAGIC), items: decodeOtlpRequest(signalOf(path), plain, 'protobuf').items });
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-accept-encoding': 'identity,deflate,gzip' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      // An empty ExportTraceServiceResponse, uncompressed: flag 0, length 0.
      stream.end(Buffer.alloc(5));
    });
  });
  grpcPort = await freePort();
  await new Promise<void>((r) => grpc.listen(grpcPort, '127.0.0.1', r));

  http = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const encoding = req.headers['content-encoding'];
      const plain = encoding === 'gzip' ? gunzipSync(body) : body;
      const format = req.headers['content-type'] === 'application/json' ? 'json' : 'protobuf';
      httpSeen.push({ path: req.url!, encoding, isGzip: body.subarray(0, 2).equals(GZIP_MAGIC), items: decodeOtlpRequest(signalOf(req.url!), plain, format).items });
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  httpPort = await freePort();
  await new Promise<void>((r) => http.listen(httpPort, '127.0.0.1', r));
});

afterAll(async () => {
  await new Promise((r) => (http ? http.close(r) : r(undefined)));
  await new Promise((r) => (grpc ? grpc.close(r) : r(undefined)));
});

describe('otlp (gRPC) compression on the wire', () => {
  async function exportBoth(key: string, compression?: 'gzip' | 'none'): Promise<void> {
    grpcSeen.length = 0;
    const defaults = otlpExporterFactory.createDefaultConfig();
    const e = otlpExporterFactory.create(settingsFor(key, telemetry), {
      ...defaults,
      ...(compression ? { compression } : {}),
      endpoint: `http://127.0.0.1:${grpcPort}`,
      retry_on_failure: NO_RETRY,
      sending_queue: { ...defaults.sending_queue, num_consumers: 1 },
    });
    await e.start();
    // Three calls on one channel: the second and third come after the server's grpc-accept-encoding.
    await e.consume(sampleTraces());
    await e.consume(sampleMetrics());
    await e.consume(sampleTraces('1bf7651916cd43dd8448eb211c80319d'));
    await e.shutdown();
    expect(await counterValue(telemetry, 'sonde_exporter_sent_items_total', { exporter: key })).toBe(7);
  }

  it('sends grpc-encoding: gzip and gzip-compressed messages with the default config', async () => {
    expect(otlpExporterFactory.createDefaultConfig().compression).toBe('gzip');
    await exportBoth('otlp/gzip');
    expect(grpcSeen).toEqual([
      { path: GRPC_EXPORT_METHODS.traces, encoding: 'gzip', compressedFlag: 1, isGzip: true, items: 2 },
      { path: GRPC_EXPORT_METHODS.metrics, encoding: 'gzip', compressedFlag: 1, isGzip: true, items: 3 },
      { path: GRPC_EXPORT_METHODS.traces, encoding: 'gzip', compressedFlag: 1, isGzip: true, items: 2 },
    ]);
  });

  it('sends no grpc-encoding and plain messages with compression: none', async () => {
    await exportBoth('otlp/plain', 'none');
    expect(grpcSeen).toEqual([
      { path: GRPC_EXPORT_METHODS.traces, encoding: undefined, compressedFlag: 0, isGzip: false, items: 2 },
      { path: GRPC_EXPORT_METHODS.metrics, encoding: undefined, compressedFlag: 0, isGzip: false, items: 3 },
      { path: GRPC_EXPORT_METHODS.traces, encoding: undefined, compressedFlag: 0, isGzip: false, items: 2 },
    ]);
  });
});

describe('otlphttp compression on the wire', () => {
  for (const encoding of ['proto', 'json'] as const) {
    for (const compression of [undefined, 'none'] as const) {
      const gzip = compression === undefined;
      it(`${encoding}, ${gzip ? 'default config: content-encoding gzip and a gzip body' : 'compression none: no content-encoding, a plain body'}`, async () => {
        httpSeen.length = 0;
        const key = `otlphttp/${encoding}-${compression ?? 'default'}`;
        const e = otlpHttpExporterFactory.create(settingsFor(key, telemetry), {
          ...otlpHttpExporterFactory.createDefaultConfig(),
          ...(compression ? { compression } : {}),
          encoding,
          endpoint: `http://127.0.0.1:${httpPort}`,
          retry_on_failure: NO_RETRY,
        });
        await e.start();
        await e.consume(sampleTraces());
        await e.consume(sampleMetrics());
        await e.shutdown();
        const want = { encoding: gzip ? 'gzip' : undefined, isGzip: gzip };
        expect([...httpSeen].sort((a, b) => a.path.localeCompare(b.path))).toEqual([
          { path: '/v1/metrics', ...want, items: 3 },
          { path: '/v1/traces', ...want, items: 2 },
        ]);
      });
    }
  }
});
