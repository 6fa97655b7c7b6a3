// HTTP capture against the real kernel: nginx, a Node http server (child process) and Python's
// http.server receive known requests from curl over keep-alive connections; the spans and the
// histograms must match exactly what was sent.
//
// The receiver is scoped the way a user scopes Sonde on a shared host: in-kernel `include.ports`
// on the three servers' ports (which covers both their SERVER side and curl's CLIENT side). Other
// HTTP traffic on the host (a load generator, other Sonde instances) then never reaches the ring
// buffer nor takes connection-state entries, so the counts stay exact on a busy machine.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consumer } from '../../src/component/types.js';
import type { HistogramDataPoint, MetricsBatch, Span, TelemetryBatch, TracesBatch } from '../../src/pdata/types.js';
import { SpanKind } from '../../src/pdata/types.js';
import { parseComponentId } from '../../src/component/id.js';
import { ebpfReceiverFactory } from '../../src/receivers/ebpf/factory.js';
import type { EbpfReceiver } from '../../src/receivers/ebpf/receiver.js';
import type { HttpFeature } from '../../src/receivers/ebpf/http/http-feature.js';
import { createSilentLogger } from '../../src/telemetry/logger.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import { promValue } from '../helpers/sonde-process.js';
import { HTTP_LOST_SLOTS } from '../../src/receivers/ebpf/http/event-layout.js';
import { requireBpf } from './bpf-available.js';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { curl, startNginx, startNodeServer, startPythonServer, type CurlResult, type RunningServer } from './http-servers.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPLIT_TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SPLIT_PARENT_ID = 'b7ad6b7169203331';
const PARENT_ID = '00f067aa0ba902b7';

interface Sent {
  method: string;
  status: number;
  path: string;
  route: string;
  /** What curl reported for this request (absent for the raw split client's). */
  curl?: CurlResult;
}

/** The semantic-convention buckets of the HTTP duration histograms (docs/metrics-and-spans.md). */
const SEMCONV_BOUNDS = [0, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** The requests each server gets, one curl process per group (one keep-alive connection each). */
async function drive(port: number, bodyFile: string): Promise<{ sent: Sent[]; traced: CurlResult }> {
  const base = `http://127.0.0.1:${port}`;
  const sent: Sent[] = [];
  const run = async (method: string, args: string[], paths: string[]) => {
    const res = await curl(args, paths.map((p) => base + p));
    expect(res).toHaveLength(paths.length);
    paths.forEach((p, i) => {
      const path = p.split('?')[0]!;
      const route = path.replace(/\/\d+$/, '/{id}');
      sent.push({ method, status: res[i]!.code, path, route, curl: res[i]! });
    });
    return res;
  };
  const get = await run('GET', [], ['/ok', '/ok', '/ok', '/users/123?token=secret', '/status/404', '/status/404', '/status/500']);
  expect(get.map((r) => r.code)).toEqual([200, 200, 200, 200, 404, 404, 500]);
  await run('POST', ['-X', 'POST', '-d', 'a=1'], ['/ok', '/ok', '/status/404']);
  await run('DELETE', ['-X', 'DELETE'], ['/users/7', '/users/8']);
  // A 256 KiB request body made of request lines: must not be taken for new requests.
  await run('PUT', ['-X', 'PUT', '-H', 'Content-Type: application/octet-stream', '--data-binary', `@${bodyFile}`], ['/ok']);
  // Large responses whose body chunks look like status lines, then a normal request on the same connection.
  await run('GET', [], ['/big', '/big', '/ok']);
  const traced = await run('GET', ['-H', `traceparent: 00-${TRACE_ID}-${PARENT_ID}-01`], ['/traced']);
  return { sent, traced: traced[0]! };
}

/** Two requests from a raw client: gathered writes (sendmsg, 3 iovecs) and a head split over 3 writes. */
function splitClient(port: number): Promise<string> {
  const script = fileURLToPath(new URL('./fixtures/http-split-client.py', import.meta.url));
  return new Promise((resolve, reject) =>
    execFile('python3', [script, String(port), `00-${SPLIT_TRACE_ID}-${SPLIT_PARENT_ID}-01`], { timeout: 20_000 }, (e, out, err) =>
      e ? reject(new Error(`split client failed: ${err || e.message}`)) : resolve(out.trim()),
    ),
  );
}

const tally = (items: { method: string; status: number; route: string }[]) => {
  const m: Record<string, number> = {};
  for (const i of items) m[`${i.method} ${i.status} ${i.route}`] = (m[`${i.method} ${i.status} ${i.route}`] ?? 0) + 1;
  return m;
};

const allSpans = (batches: TracesBatch[]) =>
  batches.flatMap((b) => b.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((span) => ({ resource: rs.resource.attributes, span })))));

function histogramPoints(batch: MetricsBatch | undefined, name: string) {
  const out: { resource: Record<string, unknown>; dp: HistogramDataPoint }[] = [];
  for (const rm of batch?.resourceMetrics ?? [])
    for (const sm of rm.scopeMetrics)
      for (const m of sm.metrics) if (m.name === name && m.type === 'histogram') for (const dp of m.dataPoints) out.push({ resource: rm.resource.attributes, dp });
  return out;
}

const SPLIT_SENT: Sent[] = [
  { method: 'GET', status: 200, path: '/split/1', route: '/split/{id}' },
  { method: 'GET', status: 200, path: '/split/2', route: '/split/{id}' },
  { method: 'GET', status: 200, path: '/big', route: '/big' },
  { method: 'GET', status: 200, path: '/big', route: '/big' },
  { method: 'GET', status: 200, path: '/split/3', route: '/split/{id}' },
];

const ns = (s: Span) => Number(s.endTimeUnixNano - s.startTimeUnixNano);

/**
 * A histogram point must be exactly the durations of its spans (ns, both taken from the same two
 * kernel timestamps): the semantic-convention bounds, upper bounds inclusive, the count, min, max
 * and sum.
 */
function expectPointOfDurations(dp: HistogramDataPoint, durationsNs: number[], what: string): void {
  expect(dp.explicitBounds, what).toEqual(SEMCONV_BOUNDS);
  expect(dp.bucketCounts, what).toHaveLength(SEMCONV_BOUNDS.length + 1);
  expect(dp.bucketCounts.reduce((a, b) => a + b, 0), what).toBe(dp.count);
  const seconds = durationsNs.map((d) => d / 1e9);
  const buckets: number[] = new Array<number>(SEMCONV_BOUNDS.length + 1).fill(0);
  for (const v of seconds) {
    const i = SEMCONV_BOUNDS.findIndex((b) => v <= b);
    buckets[i === -1 ? SEMCONV_BOUNDS.length : i]!++;
  }
  expect(dp.count, what).toBe(seconds.length);
  expect(dp.bucketCounts, what).toEqual(buckets);
  expect(dp.min, what).toBe(Math.min(...seconds));
  expect(dp.max, what).toBe(Math.max(...seconds));
  expect(dp.sum, what).toBeCloseTo(seconds.reduce((a, b) => a + b, 0), 9);
}

describe('HTTP capture (real kernel)', () => {
  const bpf = requireBpf();
  const traces: TracesBatch[] = [];
  const metrics: MetricsBatch[] = [];
  const collect = (into: TelemetryBatch[]): Consumer => ({ mutatesData: false, consume: async (b) => void into.push(b) });
  let receiver: EbpfReceiver | undefined;
  let feature: HttpFeature | undefined;
  let telemetry: SelfTelemetry;
  const servers: RunningServer[] = [];
  const results = new Map<string, { server: RunningServer; sent: Sent[]; traced: CurlResult }>();
  let dir = '';
  let selfMetrics = '';

  beforeAll(async () => {
    if (!bpf.ok) return;
    dir = mkdtempSync(join(tmpdir(), 'sonde-http-test-'));
    const bodyFile = join(dir, 'body');
    writeFileSync(bodyFile, 'GET / HTTP/1.1\r\n'.repeat((256 * 1024) / 16)); // 16 bytes: sends of 64 KiB start with it
    telemetry = new SelfTelemetry({ processMetrics: false });
    // Servers first: their ports scope the receiver (see the top of the file).
    for (const start of [startNginx, startNodeServer, startPythonServer]) servers.push(await start());
    // The real receiver, as `sonde run` builds it: HTTP only, metrics collected at shutdown.
    const defaults = ebpfReceiverFactory.createDefaultConfig();
    const config = {
      ...defaults,
      collection_interval: '1h',
      tcp: { enabled: false },
      include: { ...defaults.include, ports: servers.map((s) => s.port) },
    };
    receiver = ebpfReceiverFactory.create(
      { id: parseComponentId('ebpf')!, logger: createSilentLogger(), telemetry, configDir: dir, backpressure: { shouldRefuse: () => false } },
      config,
      { traces: collect(traces as TelemetryBatch[]), metrics: collect(metrics as TelemetryBatch[]) },
    ) as EbpfReceiver;
    await receiver.start();
    feature = receiver.running.find((f) => f.name === 'http') as HttpFeature;
    expect(feature).toBeDefined();
    for (const server of servers) {
      const { sent, traced } = await drive(server.port, bodyFile);
      expect(await splitClient(server.port)).toBe('200 200 200 aligned');
      results.set(server.name, { server, sent, traced });
    }
    // Shutdown drains the ring and ships the last spans and the cumulative histograms.
    await receiver.shutdown();
    selfMetrics = await telemetry.render();
  }, 120_000);

  afterAll(async () => {
    await receiver?.shutdown();
    for (const s of servers) await s.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.runIf(bpf.ok)('decoded every record without error', () => {
    expect(feature!.pipeline.stats.decodeErrors).toBe(0);
  });

  it.runIf(bpf.ok)('lost, dropped or left unpaired nothing (every loss counter is zero)', () => {
    for (const program of [...HTTP_LOST_SLOTS, 'http_decoder']) expect(promValue(selfMetrics, 'sonde_ebpf_events_lost_total', { program }), program).toBe(0);
    const refused = promValue(selfMetrics, 'sonde_receiver_refused_items_total', { receiver: 'ebpf' });
    expect(Number.isNaN(refused) ? 0 : refused).toBe(0); // absent until the first refusal
    expect(feature!.pipeline.stats.spansDropped).toBe(0);
    // every record read became a span (SERVER and CLIENT, all three servers)
    expect(promValue(selfMetrics, 'sonde_ebpf_events_total', { program: 'http' })).toBe(allSpans(traces).length);
  });

  for (const name of ['nginx', 'node', 'python']) {
    describe(name, () => {
      it.runIf(bpf.ok)('SERVER spans match the requests sent, per method, status and route', () => {
        const { server, sent: curlSent } = results.get(name)!;
        const sent = [...curlSent, ...SPLIT_SENT];
        const spans = allSpans(traces).filter((s) => s.span.kind === SpanKind.SERVER && s.resource['process.pid'] === server.pid);
        expect(spans.length).toBe(sent.length);
        expect(tally(spans.map(({ span: s }) => ({ method: String(s.attributes['http.request.method']), status: Number(s.attributes['http.response.status_code']), route: String(s.attributes['http.route']) })))).toEqual(tally(sent));
        for (const { span } of spans) {
          expect(span.attributes['server.port']).toBe(server.port);
          expect(span.attributes['network.protocol.version']).toBe('1.1');
          expect(span.attributes['client.address']).toBe('127.0.0.1');
          expect(span.name).toBe(`${span.attributes['http.request.method']} ${span.attributes['http.route']}`);
          expect(ns(span)).toBeGreaterThan(0);
        }
        const paths = spans.map((s) => s.span.attributes['url.path']).sort();
        expect(paths).toEqual(sent.map((s) => s.path).sort());
        const user = spans.find((s) => s.span.attributes['url.path'] === '/users/123')!;
        expect(user.span.attributes['http.route']).toBe('/users/{id}');
        expect(spans.filter((s) => s.span.status.code === 2).length).toBe(sent.filter((s) => s.status >= 500).length);
      });

      it.runIf(bpf.ok)('curl is seen as CLIENT spans for the same requests', () => {
        const { server, sent } = results.get(name)!;
        const spans = allSpans(traces).filter((s) => s.span.kind === SpanKind.CLIENT && s.resource['process.executable.name'] === 'curl' && s.span.attributes['server.port'] === server.port);
        expect(spans.length).toBe(sent.length);
        expect(tally(spans.map(({ span: s }) => ({ method: String(s.attributes['http.request.method']), status: Number(s.attributes['http.response.status_code']), route: String(s.attributes['http.route']) })))).toEqual(tally(sent));
        expect(spans.filter((s) => s.span.status.code === 2).length).toBe(sent.filter((s) => s.status >= 400).length);
      });

      it.runIf(bpf.ok)('histogram counts match per method, status and route', () => {
        const { server, sent: curlSent } = results.get(name)!;
        const sent = [...curlSent, ...SPLIT_SENT];
        const points = histogramPoints(metrics.at(-1), 'http.server.request.duration').filter((p) => p.resource['process.pid'] === server.pid);
        const counts: Record<string, number> = {};
        for (const { dp } of points) {
          expect(dp.attributes['server.port']).toBe(server.port);
          expect(dp.bucketCounts.reduce((a, b) => a + b, 0)).toBe(dp.count);
          const k = `${dp.attributes['http.request.method']} ${dp.attributes['http.response.status_code']} ${dp.attributes['http.route']}`;
          counts[k] = (counts[k] ?? 0) + dp.count;
        }
        expect(counts).toEqual(tally(sent));
        // each point holds exactly its SERVER spans' durations, in the semantic-convention buckets
        const serverSpans = allSpans(traces).filter((s) => s.span.kind === SpanKind.SERVER && s.resource['process.pid'] === server.pid).map((s) => s.span);
        for (const { dp } of points) {
          const a = dp.attributes;
          const mine = serverSpans.filter((s) => (['http.request.method', 'http.response.status_code', 'http.route', 'server.port'] as const).every((k) => s.attributes[k] === a[k]));
          expectPointOfDurations(dp, mine.map(ns), `server ${JSON.stringify(a)}`);
        }

        const client = histogramPoints(metrics.at(-1), 'http.client.request.duration').filter((p) => p.dp.attributes['server.port'] === server.port && p.resource['process.executable.name'] === 'curl');
        const ccounts: Record<string, number> = {};
        for (const { dp } of client) {
          expect(dp.bucketCounts.reduce((a, b) => a + b, 0)).toBe(dp.count);
          const k = `${dp.attributes['http.request.method']} ${dp.attributes['http.response.status_code']}`;
          ccounts[k] = (ccounts[k] ?? 0) + dp.count;
        }
        const want: Record<string, number> = {};
        for (const s of curlSent) want[`${s.method} ${s.status}`] = (want[`${s.method} ${s.status}`] ?? 0) + 1;
        expect(ccounts).toEqual(want);
        // every client point to this server (curl's and the raw split client's) holds exactly the
        // durations of its process's CLIENT spans
        const allClient = histogramPoints(metrics.at(-1), 'http.client.request.duration').filter((p) => p.dp.attributes['server.port'] === server.port);
        expect(allClient.reduce((n, p) => n + p.dp.count, 0)).toBe(curlSent.length + SPLIT_SENT.length);
        for (const { resource, dp } of allClient) {
          const a = dp.attributes;
          const mine = allSpans(traces)
            .filter((s) => s.span.kind === SpanKind.CLIENT && s.resource['process.pid'] === resource['process.pid'])
            .map((s) => s.span)
            .filter((s) => (['http.request.method', 'http.response.status_code', 'server.address', 'server.port'] as const).every((k) => s.attributes[k] === a[k]));
          expectPointOfDurations(dp, mine.map(ns), `client ${String(resource['process.pid'])} ${JSON.stringify(a)}`);
        }
      });

      it.runIf(bpf.ok)('every request: 0 < server time <= client span <= curl time_total; peers are the socket ends', () => {
        const { server, sent } = results.get(name)!;
        // SERVER spans by connection (the peer port is curl's source port), CLIENT spans by curl
        // process (one connection each), each in order of start: the k-th request curl made on a
        // connection is the k-th span on it. The raw split client comes after curl, so a source
        // port it happens to reuse only adds spans after curl's.
        const byStart = (a: Span, b: Span) => (a.startTimeUnixNano < b.startTimeUnixNano ? -1 : a.startTimeUnixNano > b.startTimeUnixNano ? 1 : 0);
        const group = <K,>(spans: Span[], key: (s: Span) => K) => {
          const m = new Map<K, Span[]>();
          for (const s of spans) m.set(key(s), [...(m.get(key(s)) ?? []), s]);
          for (const list of m.values()) list.sort(byStart);
          return m;
        };
        const all = allSpans(traces);
        const serverByPort = group(
          all.filter((s) => s.span.kind === SpanKind.SERVER && s.resource['process.pid'] === server.pid).map((s) => s.span),
          (s) => Number(s.attributes['network.peer.port']),
        );
        const clientByPid = new Map<number, Span[]>();
        for (const pid of new Set(sent.map((s) => s.curl!.pid)))
          clientByPid.set(pid, all.filter((s) => s.span.kind === SpanKind.CLIENT && s.resource['process.pid'] === pid).map((s) => s.span).sort(byStart));
        const nextOnPort = new Map<number, number>();
        const nextOfPid = new Map<number, number>();
        for (const req of sent) {
          const c = req.curl!;
          const what = `${name} ${req.method} ${req.path} (curl ${c.pid}, port ${c.localPort})`;
          const k = nextOnPort.get(c.localPort) ?? 0;
          nextOnPort.set(c.localPort, k + 1);
          const j = nextOfPid.get(c.pid) ?? 0;
          nextOfPid.set(c.pid, j + 1);
          const srv = serverByPort.get(c.localPort)?.[k];
          const cli = clientByPid.get(c.pid)?.[j];
          expect(srv, what).toBeDefined();
          expect(cli, what).toBeDefined();
          // the same request on both ends
          for (const span of [srv!, cli!]) {
            expect(span.attributes['url.path'], what).toBe(req.path);
            expect(span.attributes['http.request.method'], what).toBe(req.method);
            expect(span.attributes['http.response.status_code'], what).toBe(req.status);
          }
          // the peer of each end is the other end of the socket
          expect(c.localIp, what).toBe('127.0.0.1');
          expect(srv!.attributes['network.peer.address'], what).toBe(c.localIp);
          expect(srv!.attributes['network.peer.port'], what).toBe(c.localPort);
          expect(srv!.attributes['client.address'], what).toBe(c.localIp);
          expect(cli!.attributes['network.peer.address'], what).toBe('127.0.0.1');
          expect(cli!.attributes['network.peer.port'], what).toBe(server.port);
          expect(cli!.attributes['server.port'], what).toBe(server.port);
          // durations: the server's exchange lies inside the client's, which lies inside curl's
          // own measure (time_total is printed in whole microseconds: allow that rounding)
          expect(ns(srv!), what).toBeGreaterThan(0);
          expect(ns(srv!), what).toBeLessThanOrEqual(ns(cli!));
          expect(ns(cli!), what).toBeLessThanOrEqual(Math.round(c.seconds * 1e9) + 1000);
        }
        // every CLIENT span of curl was paired (none left over), and each connection's SERVER
        // spans from curl were all paired
        for (const [pid, list] of clientByPid) expect(list.length, `curl ${pid}`).toBe(nextOfPid.get(pid));
        // keep-alive: curl reused its connection (fewer connections than requests in each group of several)
        for (const [pid, n] of nextOfPid) if (n > 1) expect(new Set(sent.filter((s) => s.curl!.pid === pid).map((s) => s.curl!.localPort)).size, `curl ${pid}`).toBeLessThan(n);
      });

      it.runIf(bpf.ok)('a traceparent puts both spans in the caller trace; server time fits in the client time', () => {
        const { server, traced } = results.get(name)!;
        const tracedSpans = allSpans(traces).filter((s) => s.span.attributes['url.path'] === '/traced' && s.span.attributes['server.port'] === server.port);
        const srv = tracedSpans.find((s) => s.span.kind === SpanKind.SERVER)!;
        const cli = tracedSpans.find((s) => s.span.kind === SpanKind.CLIENT)!;
        for (const s of [srv, cli]) {
          expect(s.span.traceId).toBe(TRACE_ID);
          expect(s.span.parentSpanId).toBe(PARENT_ID);
        }
        expect(ns(srv.span)).toBeGreaterThan(0);
        expect(ns(srv.span)).toBeLessThanOrEqual(ns(cli.span));
        expect(ns(srv.span) / 1e9).toBeLessThanOrEqual(traced.seconds);
        // the untraced requests got fresh trace ids
        const others = allSpans(traces).filter((s) => s.span.attributes['server.port'] === server.port && s.span.attributes['url.path'] !== '/traced' && !String(s.span.attributes['url.path']).startsWith('/split/'));
        expect(others.every((s) => s.span.traceId !== TRACE_ID && s.span.parentSpanId === undefined)).toBe(true);
      });
    });
  }

  it.runIf(bpf.ok)('requests gathered from several buffers or split over several reads are whole, with their traceparent', () => {
    for (const { server } of results.values()) {
      const split = allSpans(traces).filter((s) => String(s.span.attributes['url.path']).startsWith('/split/') && s.span.attributes['server.port'] === server.port);
      const sides = split.map((s) => `${s.span.kind === SpanKind.SERVER ? 'server' : 'client'} ${s.span.attributes['url.path']} ${s.span.attributes['http.route']} ${s.span.attributes['http.response.status_code']}`).sort();
      expect(sides, server.name).toEqual([
        'client /split/1 /split/{id} 200',
        'client /split/2 /split/{id} 200',
        'client /split/3 /split/{id} 200',
        'server /split/1 /split/{id} 200',
        'server /split/2 /split/{id} 200',
        'server /split/3 /split/{id} 200',
      ]);
      // the raw client's big responses, read 16 bytes at a time, are two exchanges, not hundreds
      const rawClient = allSpans(traces).filter((s) => s.span.kind === SpanKind.CLIENT && s.span.attributes['server.port'] === server.port && s.resource['process.executable.name'] !== 'curl');
      expect(rawClient.map((s) => s.span.attributes['url.path']).sort(), server.name).toEqual(['/big', '/big', '/split/1', '/split/2', '/split/3']);
      for (const s of split.filter((x) => x.span.attributes['url.path'] !== '/split/3')) {
        expect(s.span.traceId).toBe(SPLIT_TRACE_ID);
        expect(s.span.parentSpanId).toBe(SPLIT_PARENT_ID);
        expect(s.span.attributes['server.address']).toBe('127.0.0.1');
      }
    }
  });

  it.runIf(bpf.ok)('the query string (and its secret) appears nowhere in the output', () => {
    const text = JSON.stringify([traces, metrics], (_k, v) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v));
    expect(text).toContain('/users/123');
    expect(text).not.toContain('secret');
    expect(text).not.toContain('token');
  });
});
