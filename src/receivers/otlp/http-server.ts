// OTLP/HTTP receiver transport: POST /v1/traces and /v1/metrics.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGunzip, createInflate, type Gunzip, type Inflate } from 'node:zlib';
import type { Logger } from '../../telemetry/logger.js';
import { encodeExportResponse, encodeRpcStatus, type OtlpFormat } from '../../pdata/otlp/decode.js';
import type { Signal } from '../../pdata/types.js';
import { normalizeClientAddress } from './client-address.js';
import { ingest, malformedCounter, type IngestContext } from './ingest.js';

const PATHS: Record<string, Signal> = { '/v1/traces': 'traces', '/v1/metrics': 'metrics' };

// google.rpc.Code values used in error bodies.
const RPC_INVALID_ARGUMENT = 3;
const RPC_NOT_FOUND = 5;
const RPC_RESOURCE_EXHAUSTED = 8;
const RPC_UNIMPLEMENTED = 12;
const RPC_UNAVAILABLE = 14;

class BodyError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function formatOf(contentType: string | undefined): OtlpFormat | undefined {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  if (type === 'application/x-protobuf' || type === 'application/protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  return undefined;
}

/** Reads the body, decompressing as it goes; both the wire size and the decompressed size are capped. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
  let inflater: Gunzip | Inflate | undefined;
  if (encoding === 'gzip') inflater = createGunzip();
  else if (encoding === 'deflate') inflater = createInflate();
  else if (encoding !== 'identity' && encoding !== 'none' && encoding !== '') {
    return Promise.reject(new BodyError(415, 'SONDE_OTLP_UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${encoding} is not supported (use gzip, deflate or none)`));
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(new BodyError(413, 'SONDE_OTLP_TOO_LARGE', `body of ${declared} bytes exceeds max_request_body_size (${limit})`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let wire = 0;
    let plain = 0;
    let failed = false;
    const fail = (err: BodyError): void => {
      if (failed) return;
      failed = true;
      inflater?.destroy();
      reject(err);
    };
    const collect = (c: Buffer): void => {
      plain += c.length;
      if (plain > limit) return fail(new BodyError(413, 'SONDE_OTLP_TOO_LARGE', `decompressed body exceeds max_request_body_size (${limit})`));
      chunks.push(c);
    };
    if (inflater) {
      inflater.on('data', collect);
      inflater.on('error', (err) => fail(new BodyError(400, 'SONDE_OTLP_MALFORMED', `invalid ${encoding} body: ${err.message}`)));
      inflater.on('end', () => !failed && resolve(Buffer.concat(chunks)));
    }
    req.on('data', (c: Buffer) => {
      if (failed) return;
      wire += c.length;
      if (wire > limit) return fail(new BodyError(413, 'SONDE_OTLP_TOO_LARGE', `body exceeds max_request_body_size (${limit})`));
      if (inflater) inflater.write(c);
      else collect(c);
    });
    req.on('end', () => {
      if (failed) return;
      if (inflater) inflater.end();
      else resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => fail(new BodyError(400, 'SONDE_OTLP_MALFORMED', `reading body: ${err.message}`)));
  });
}

export interface HttpServerOptions {
  host: string;
  port: number;
  maxBodyBytes: number;
  ctx: IngestContext;
  logger: Logger;
}

export class OtlpHttpServer {
  private server: Server | undefined;
  private readonly malformed;

  constructor(private readonly options: HttpServerOptions) {
    this.malformed = malformedCounter(options.ctx.telemetry);
  }

  /** The bound port (useful with port 0). */
  get port(): number | undefined {
    return (this.server?.address() as AddressInfo | null)?.port;
  }

  listen(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        // Never let a request take the process down.
        this.options.logger.error({ err }, 'otlp receiver: unexpected error handling a request');
        if (!res.headersSent) this.reply(res, 500, 'protobuf', encodeRpcStatus(13, 'internal error', 'protobuf'));
        else res.destroy();
      });
    });
    server.on('clientError', (_err, socket) => socket.destroy());
    // Slow senders must not pin sockets forever.
    server.requestTimeout = 60_000;
    server.headersTimeout = 30_000;
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      // In-flight requests get a moment to finish before their sockets are cut.
      setTimeout(() => server.closeAllConnections(), 2000).unref();
    });
  }

  private reply(res: ServerResponse, status: number, format: OtlpFormat, body: Uint8Array, headers: Record<string, string> = {}): void {
    res.writeHead(status, {
      'content-type': format === 'json' ? 'application/json' : 'application/x-protobuf',
      'content-length': body.byteLength,
      ...headers,
    });
    res.end(body);
  }

  private fail(res: ServerResponse, status: number, rpcCode: number, format: OtlpFormat, message: string, headers: Record<string, string> = {}): void {
    this.reply(res, status, format, encodeRpcStatus(rpcCode, message, format), headers);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { ctx, maxBodyBytes } = this.options;
    const path = (req.url ?? '').split('?')[0]!;
    const signal = PATHS[path];
    const format = formatOf(req.headers['content-type']);
    const replyFormat = format ?? 'json';
    const countMalformed = (): void => this.malformed.inc({ receiver: ctx.receiver, transport: 'http' });
    if (!signal) return this.fail(res, 404, RPC_NOT_FOUND, replyFormat, `unknown path ${path}; OTLP/HTTP uses /v1/traces and /v1/metrics`);
    if (req.method !== 'POST') return this.fail(res, 405, RPC_UNIMPLEMENTED, replyFormat, `${req.method} not allowed; use POST`, { allow: 'POST' });
    if (!ctx.next[signal]) return this.fail(res, 404, RPC_UNIMPLEMENTED, replyFormat, `this receiver feeds no ${signal} pipeline`);
    if (!format) {
      countMalformed();
      req.resume();
      return this.fail(res, 415, RPC_INVALID_ARGUMENT, 'json', `SONDE_OTLP_UNSUPPORTED_MEDIA_TYPE: Content-Type ${req.headers['content-type'] ?? '(none)'} is not supported; use application/x-protobuf or application/json`);
    }
    let body: Buffer;
    try {
      body = await readBody(req, maxBodyBytes);
    } catch (err) {
      const e = err instanceof BodyError ? err : new BodyError(400, 'SONDE_OTLP_MALFORMED', String(err));
      countMalformed();
      // Discard whatever of the body is still coming so the sender can read our answer, then close.
      req.resume();
      const headers: Record<string, string> = e.status === 413 ? { connection: 'close' } : {};
      return this.fail(res, e.status, e.status === 413 ? RPC_RESOURCE_EXHAUSTED : RPC_INVALID_ARGUMENT, format, `${e.code}: ${e.message}`, headers);
    }
    const outcome = await ingest(ctx, signal, body, format, normalizeClientAddress(req.socket.remoteAddress));
    switch (outcome.kind) {
      case 'ok':
        return this.reply(res, 200, format, encodeExportResponse(signal, format, outcome.partial));
      case 'malformed':
        countMalformed();
        return this.fail(res, 400, RPC_INVALID_ARGUMENT, format, `${outcome.error.code}: ${outcome.error.message}`);
      case 'refused':
        return this.fail(res, 400, RPC_INVALID_ARGUMENT, format, `${outcome.error.code}: ${outcome.error.message}`);
      case 'unavailable': {
        const headers: Record<string, string> = outcome.retryAfterMs !== undefined ? { 'retry-after': String(Math.ceil(outcome.retryAfterMs / 1000)) } : {};
        return this.fail(res, 503, RPC_UNAVAILABLE, format, `${outcome.error.code}: ${outcome.error.message}`, headers);
      }
    }
  }
}
