// A small Kubernetes API server for tests, on 127.0.0.1. It speaks the parts of the protocol an
// informer uses: paged lists (limit/continue) with a list resourceVersion, fieldSelector
// spec.nodeName on pods, and watches streamed as chunked JSON lines from a resourceVersion.
// A watch from a resourceVersion older than the server's history gets a 410 Gone ERROR event
// (as a real API server answers), which forces the client to list again. `stop()` + `start()`
// on the same port simulate an API server restart: history is lost, resourceVersions continue.
// With `tls` it serves HTTPS (as a real API server does); every request's Authorization header is
// logged, and `acceptTokens()` makes it answer 401 to any other bearer token.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { freePort } from '../helpers/free-port.js';

export type Resource = 'pods' | 'replicasets' | 'jobs' | 'services' | 'namespaces';

const PATHS: Record<string, Resource> = {
  '/api/v1/pods': 'pods',
  '/apis/apps/v1/replicasets': 'replicasets',
  '/apis/batch/v1/jobs': 'jobs',
  '/api/v1/services': 'services',
  '/api/v1/namespaces': 'namespaces',
};

const LIST_KIND: Record<Resource, { kind: string; apiVersion: string }> = {
  pods: { kind: 'PodList', apiVersion: 'v1' },
  replicasets: { kind: 'ReplicaSetList', apiVersion: 'apps/v1' },
  jobs: { kind: 'JobList', apiVersion: 'batch/v1' },
  services: { kind: 'ServiceList', apiVersion: 'v1' },
  namespaces: { kind: 'NamespaceList', apiVersion: 'v1' },
};

type Obj = Record<string, any>;
type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface HistoryEvent {
  rv: number;
  resource: Resource;
  type: EventType;
  object: Obj;
}

interface Watcher {
  resource: Resource;
  node: string | undefined;
  res: ServerResponse;
}

export interface RequestLog {
  resource: Resource;
  watch: boolean;
  resourceVersion: string | undefined;
  fieldSelector: string | undefined;
  status: number;
  /** The Authorization header as received (undefined when absent). */
  authorization: string | undefined;
}

export interface FakeApiServerOptions {
  /** Serve HTTPS with this PEM certificate (chain) and key instead of plain HTTP. */
  tls?: { cert: Buffer | string; key: Buffer | string };
}

export class FakeApiServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly objects: Record<Resource, Map<string, Obj>> = {
    pods: new Map(),
    replicasets: new Map(),
    jobs: new Map(),
    services: new Map(),
    namespaces: new Map(),
  };
  /** Lazily made objects (large lists): index -> object, never stored. */
  private generated: { resource: Resource; count: number; make: (i: number) => Obj } | undefined;
  private history: HistoryEvent[] = [];
  /** Oldest resourceVersion a watch may start from; older ones get 410 Gone. */
  private historyStart = 1;
  private rv = 1;
  private watchers = new Set<Watcher>();
  readonly requests: RequestLog[] = [];
  /** TLS handshakes that failed (e.g. the client did not trust the certificate); HTTPS only. */
  tlsClientErrors = 0;
  private accepted: Set<string> | undefined;
  port = 0;

  constructor(private readonly options: FakeApiServerOptions = {}) {}

  get protocol(): 'http' | 'https' {
    return this.options.tls ? 'https' : 'http';
  }

  /** Serve only requests carrying `Authorization: Bearer <one of tokens>`; undefined serves all. */
  acceptTokens(tokens: readonly string[] | undefined): void {
    this.accepted = tokens ? new Set(tokens) : undefined;
  }

  async start(port = this.port): Promise<number> {
    // A port from this worker's slice, not listen(0): tests stop the server and start it again on
    // the same port, and an ephemeral port freed in between can be taken by anything else.
    if (port === 0) port = await freePort();
    const handler = (req: IncomingMessage, res: ServerResponse): void => this.handle(req, res);
    const tls = this.options.tls;
    const server: Server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, handler) : createServer(handler);
    if (tls) server.on('tlsClientError', () => this.tlsClientErrors++);
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    return this.port;
  }

  /** Drops every connection at once, as a crashed or restarting API server does. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.watchers.clear();
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    // A restarted API server starts its watch cache at the current resourceVersion.
    this.history = [];
    this.historyStart = this.rv;
  }

  /** End every open watch cleanly (as the server's watch timeout does); clients resume from their resourceVersion. */
  closeWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  /** Forget watch history, as etcd compaction does: watches from older versions get 410 Gone. */
  compact(): void {
    this.history = [];
    this.historyStart = this.rv;
  }

  get resourceVersion(): number {
    return this.rv;
  }

  watcherCount(resource?: Resource): number {
    let n = 0;
    for (const w of this.watchers) if (!resource || w.resource === resource) n++;
    return n;
  }

  generate(resource: Resource, count: number, make: (i: number) => Obj): void {
    this.generated = { resource, count, make };
  }

  create(resource: Resource, obj: Obj): Obj {
    return this.write(resource, 'ADDED', obj);
  }

  update(resource: Resource, obj: Obj): Obj {
    return this.write(resource, 'MODIFIED', obj);
  }

  delete(resource: Resource, namespace: string, name: string): Obj | undefined {
    const key = `${namespace}/${name}`;
    const existing = this.objects[resource].get(key);
    if (!existing) return undefined;
    return this.write(resource, 'DELETED', existing);
  }

  get(resource: Resource, namespace: string, name: string): Obj | undefined {
    return this.objects[resource].get(`${namespace}/${name}`);
  }

  private write(resource: Resource, type: EventType, obj: Obj): Obj {
    const copy = structuredClone(obj);
    this.rv++;
    copy.metadata.resourceVersion = String(this.rv);
    const key = `${copy.metadata.namespace ?? ''}/${copy.metadata.name}`;
    if (type === 'DELETED') this.objects[resource].delete(key);
    else this.objects[resource].set(key, copy);
    const ev: HistoryEvent = { rv: this.rv, resource, type, object: copy };
    this.history.push(ev);
    if (this.server) for (const w of this.watchers) if (w.resource === resource && matches(copy, w.node)) send(w.res, ev);
    return copy;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const resource = PATHS[url.pathname];
    const watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const rv = url.searchParams.get('resourceVersion') ?? undefined;
    const fieldSelector = url.searchParams.get('fieldSelector') ?? undefined;
    const authorization = req.headers.authorization;
    const log = (status: number): void => {
      if (resource) this.requests.push({ resource, watch, resourceVersion: rv, fieldSelector, status, authorization });
    };
    if (this.accepted && !this.accepted.has(/^Bearer (.*)$/.exec(authorization ?? '')?.[1] ?? '')) {
      // What kube-apiserver answers to a missing, expired or unknown token.
      log(401);
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(status(401, 'Unauthorized', 'Unauthorized')));
      return;
    }
    if (!resource || req.method !== 'GET') {
      log(404);
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(status(404, 'NotFound', `the server could not find the requested resource`)));
      return;
    }
    let node: string | undefined;
    if (fieldSelector) {
      const m = /^spec\.nodeName=(.*)$/.exec(fieldSelector);
      if (!m || resource !== 'pods') {
        log(400);
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify(status(400, 'BadRequest', `field label not supported: ${fieldSelector}`)));
        return;
      }
      node = m[1];
    }
    log(200);
    if (watch) this.watch(resource, node, rv, res);
    else this.list(resource, node, url, res);
  }

  private list(resource: Resource, node: string | undefined, url: URL, res: ServerResponse): void {
    const limit = Number(url.searchParams.get('limit') ?? '0');
    const cont = url.searchParams.get('continue');
    let offset = 0;
    let listRv = this.rv;
    if (cont) {
      const parsed = JSON.parse(Buffer.from(cont, 'base64').toString('utf8')) as { offset: number; rv: number };
      offset = parsed.offset;
      listRv = parsed.rv;
    }
    const gen = this.generated?.resource === resource ? this.generated : undefined;
    const stored = [...this.objects[resource].values()].filter((o) => matches(o, node));
    const total = stored.length + (gen ? gen.count : 0);
    const end = limit > 0 ? Math.min(total, offset + limit) : total;
    res.writeHead(200, { 'content-type': 'application/json' });
    const meta: Obj = { resourceVersion: String(listRv) };
    if (end < total) meta.continue = Buffer.from(JSON.stringify({ offset: end, rv: listRv })).toString('base64');
    const head = { ...LIST_KIND[resource], metadata: meta };
    // Written item by item so a large page never exists as one string.
    res.write(JSON.stringify(head).slice(0, -1) + ',"items":[');
    for (let i = offset; i < end; i++) {
      const obj = i < stored.length ? stored[i]! : gen!.make(i - stored.length);
      if (obj.metadata.resourceVersion === undefined) obj.metadata.resourceVersion = String(listRv);
      res.write((i > offset ? ',' : '') + JSON.stringify(obj));
    }
    res.end(']}');
  }

  private watch(resource: Resource, node: string | undefined, rvParam: string | undefined, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const from = rvParam ? Number(rvParam) : this.rv;
    if (from < this.historyStart) {
      // What a real API server streams when the requested version is compacted away.
      res.end(
        JSON.stringify({
          type: 'ERROR',
          object: status(410, 'Expired', `too old resource version: ${from} (${this.historyStart})`),
        }) + '\n',
      );
      return;
    }
    for (const ev of this.history) if (ev.rv > from && ev.resource === resource && matches(ev.object, node)) send(res, ev);
    const w: Watcher = { resource, node, res };
    this.watchers.add(w);
    res.on('close', () => this.watchers.delete(w));
  }
}

function matches(obj: Obj, node: string | undefined): boolean {
  return node === undefined || obj.spec?.nodeName === node;
}

function send(res: ServerResponse, ev: HistoryEvent): void {
  res.write(JSON.stringify({ type: ev.type, object: ev.object }) + '\n');
}

function status(code: number, reason: string, message: string): Obj {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}
