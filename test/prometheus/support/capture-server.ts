// A small remote-write receiver on 127.0.0.1 that decodes and records requests, and answers
// with whatever status the test scripts.
import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeWriteRequestBody, type WriteRequest } from '../../../src/exporters/prometheusremotewrite/write-request.js';

export interface CapturedRequest {
  headers: IncomingHttpHeaders;
  body: WriteRequest;
  status: number;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export class CaptureServer {
  readonly requests: CapturedRequest[] = [];
  /** Decides each reply; 204 by default. */
  reply: (req: WriteRequest, n: number) => Reply = () => ({ status: 204 });
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = decodeWriteRequestBody(new Uint8Array(Buffer.concat(chunks)));
        const r = this.reply(body, this.requests.length);
        this.requests.push({ headers: req.headers, body, status: r.status });
        res.writeHead(r.status, r.headers ?? {}).end(r.body ?? '');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    const port = (this.server.address() as AddressInfo).port;
    return `http://127.0.0.1:${port}/api/v1/write`;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
