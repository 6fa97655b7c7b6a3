import { createServer, type Server } from 'node:http';
import { SondeError } from '../errors/index.js';
import type { SelfTelemetry } from './self-telemetry.js';

export interface AdminServerOptions {
  address: string;
  telemetry: SelfTelemetry;
  /** True once every pipeline has started. */
  isReady: () => boolean;
}

export interface AdminServer {
  readonly address: string;
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  close(): Promise<void>;
}

export function splitHostPort(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address);
  if (!m) throw new SondeError('SONDE_CONFIG_INVALID', `invalid address "${address}": expected host:port`);
  return { host: m[1] ?? m[2] ?? '', port: Number(m[3]) };
}

/** /metrics (Prometheus text), /healthz (alive), /readyz (pipelines started). */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const { host, port } = splitHostPort(options.address);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      options.telemetry
        .render()
        .then((body) => res.writeHead(200, { 'content-type': options.telemetry.registry.contentType }).end(body))
        .catch((err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`));
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const ready = options.isReady();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'starting\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics, /healthz, /readyz\n');
    }
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(new SondeError('SONDE_ADMIN_LISTEN_FAILED', `admin endpoint cannot listen on ${options.address}: ${err.message}`, { cause: err })),
    );
    server.listen(port, host || undefined, () => resolve());
  });
  const bound = server.address();
  const boundPort = typeof bound === 'object' && bound ? bound.port : port;
  return {
    address: options.address,
    port: boundPort,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
