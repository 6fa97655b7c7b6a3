// A small OTLP/HTTP backend for the reliability tests, on 127.0.0.1: it decodes every export
// request (protobuf or JSON, gzip or not), records each span id it receives and how many times,
// can answer slowly (after recording), and can be stopped and started again on the same port.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { decodeOtlpRequest } from '../../src/pdata/otlp/decode.js';
import { freePort } from '../helpers/free-port.js';

export class OtlpSink {
  /** How many times each span id arrived. */
  readonly seen = new Map<string, number>();
  requests = 0;
  spans = 0;
  /** Delay before answering each request (a slow backend). */
  delayMs = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  async start(port = this.port): Promise<void> {
    if (this.server) return;
    // Never listen(0): a stopped sink's kernel-chosen port can be handed to another test file's
    // server while it is down, and the restart on the same port then fails or Sonde's retries
    // reach the wrong server. freePort() gives a port from this worker's own slice.
    if (port === 0) port = await freePort();
    const server = createServer(
      (req, res) =>
        void this.handle(req, res).catch((err: unknown) => {
          res.destroy();
          // A request cut mid-body (stop(), or Sonde killed) is lost like at a crashed backend;
          // anything else (a body that does not decode) stays loud.
          if (req.complete) throw err;
        }),
    );
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** Stops like a crashed backend: the port closes and open connections are cut. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  duplicates(): number {
    let d = 0;
    for (const n of this.seen.values()) d += n - 1;
    return d;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body = Buffer.concat(chunks);
    if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
    const json = (req.headers['content-type'] ?? '').startsWith('application/json');
    // Recorded on receipt, answered after delayMs: a backend that stored the data but whose answer
    // never reached the sender (it died, or the sender did) is how duplicates happen.
    const decoded = decodeOtlpRequest('traces', body, json ? 'json' : 'protobuf');
    this.requests++;
    if (decoded.batch.signal === 'traces') {
      for (const rs of decoded.batch.resourceSpans)
        for (const ss of rs.scopeSpans)
          for (const span of ss.spans) {
            this.spans++;
            this.seen.set(span.spanId, (this.seen.get(span.spanId) ?? 0) + 1);
          }
    }
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    if (res.socket?.destroyed) return;
    res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf', 'content-length': json ? 2 : 0 });
    res.end(json ? '{}' : undefined);
  }
}
