// `sonde run` end to end: the ebpf receiver's HTTP capture through the file exporter (OTLP/JSON
// lines), with nginx, a Node http server and Python's http.server each receiving the same three
// requests from one curl process (one keep-alive connection): SERVER and CLIENT spans and both
// duration histograms must arrive in the file, exactly. The whole file is searched for the
// query-string secret. The receiver is scoped to the test servers' ports (in the kernel), as a
// user scopes Sonde on a shared host, so other HTTP traffic on a busy machine cannot crowd out
// the exact counts.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { promValue } from '../helpers/sonde-process.js';
import { requireBpf } from './bpf-available.js';
import { curl, startNginx, startNodeServer, startPythonServer, type CurlResult, type RunningServer } from './http-servers.js';
import { pollValue } from '../helpers/poll.js';
import { attrs, type OtlpKv } from './otlp-json-points.js';
import { startEbpfRun, type EbpfRun } from './sonde-run.js';

/** The semantic-convention buckets of the HTTP duration histograms (docs/metrics-and-spans.md). */
const SEMCONV_BOUNDS = [0, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const REQUESTS = 3;
const SERVER_NAMES = ['nginx', 'node', 'python'] as const;

/** The parts of an OTLP/JSON export request line these tests read. */
interface OtlpLine {
  resourceSpans?: { resource: { attributes: OtlpKv[] }; scopeSpans: { spans: { kind: number; name: string; attributes: OtlpKv[]; startTimeUnixNano: string; endTimeUnixNano: string }[] }[] }[];
  resourceMetrics?: {
    resource: { attributes: OtlpKv[] };
    scopeMetrics: { metrics: { name: string; histogram?: { dataPoints: { attributes: OtlpKv[]; count: string | number; bucketCounts: (string | number)[]; explicitBounds: number[] }[] } }[] }[];
  }[];
}

interface FileSpan {
  res: Record<string, unknown>;
  kind: number;
  name: string;
  a: Record<string, unknown>;
  start: bigint;
  end: bigint;
}

interface FilePoint {
  res: Record<string, unknown>;
  a: Record<string, unknown>;
  count: number;
  bucketCounts: number[];
  explicitBounds: number[];
}

/** Every span of every line. */
function fileSpans(lines: OtlpLine[]): FileSpan[] {
  return lines.flatMap((l) =>
    (l.resourceSpans ?? []).flatMap((rs) =>
      rs.scopeSpans.flatMap((ss) =>
        ss.spans.map((s) => ({ res: attrs(rs.resource.attributes), kind: s.kind, name: s.name, a: attrs(s.attributes), start: BigInt(s.startTimeUnixNano), end: BigInt(s.endTimeUnixNano) })),
      ),
    ),
  );
}

/** The newest point of each series (process, attribute set) of one histogram: they are cumulative. */
function latestPoints(lines: OtlpLine[], metric: string): FilePoint[] {
  const latest = new Map<string, FilePoint>();
  for (const l of lines)
    for (const rm of l.resourceMetrics ?? [])
      for (const sm of rm.scopeMetrics)
        for (const m of sm.metrics) {
          if (m.name !== metric || !m.histogram) continue;
          const res = attrs(rm.resource.attributes);
          for (const dp of m.histogram.dataPoints) {
            const a = attrs(dp.attributes);
            latest.set(`${String(res['process.pid'])} ${JSON.stringify(a)}`, {
              res,
              a,
              count: Number(dp.count),
              bucketCounts: dp.bucketCounts.map(Number),
              explicitBounds: dp.explicitBounds,
            });
          }
        }
  return [...latest.values()];
}

describe('sonde run with HTTP capture and the file exporter (real kernel)', () => {
  const bpf = requireBpf();
  let run: EbpfRun | undefined;
  let server: RunningServer | undefined;
  const servers = new Map<string, RunningServer>();
  const curlRuns = new Map<string, CurlResult[]>();
  let fileText = '';
  let metricsText = '';

  beforeAll(async () => {
    if (!bpf.ok) return;
    const admin = await freePort();
    servers.set('nginx', await startNginx());
    servers.set('node', (server = await startNodeServer()));
    servers.set('python', await startPythonServer());
    const ports = [...servers.values()].map((s) => s.port);
    run = await startEbpfRun({
      tmpPrefix: 'sonde-http-e2e-',
      admin,
      ebpf: { collection_interval: '500ms', tcp: { enabled: false }, include: { ports } },
      signals: ['traces', 'metrics'],
    });
    for (const [name, s] of servers) curlRuns.set(name, await curl([], Array.from({ length: REQUESTS }, () => `http://127.0.0.1:${s.port}/users/123?token=secret`)));
    // The ring is read and the counters flushed on timers (later on a loaded box): poll /metrics,
    // bounded, until the exchanges (seen from curl's side and each server's) are counted.
    const total = REQUESTS * servers.size;
    metricsText = await pollValue(
      run.metrics,
      (m) =>
        promValue(m, 'sonde_ebpf_events_total', { program: 'http' }) >= 2 * total &&
        promValue(m, 'sonde_ebpf_http_requests_total', { side: 'server' }) >= total &&
        promValue(m, 'sonde_ebpf_http_requests_total', { side: 'client' }) >= total,
      20_000,
      200,
    );
    const { code } = await run.sonde.stop('SIGTERM');
    expect(code).toBe(0);
    fileText = readFileSync(run.outPath, 'utf8');
  }, 90_000);

  afterAll(async () => {
    await run?.dispose();
    for (const s of servers.values()) await s.stop();
  });

  it.runIf(bpf.ok)('writes the SERVER spans and the histogram, with the route and without the secret', () => {
    const lines = fileText.trim().split('\n').map((l) => JSON.parse(l));
    const spans = lines.flatMap((l) =>
      (l.resourceSpans ?? []).flatMap((rs: { resource: { attributes: OtlpKv[] }; scopeSpans: { spans: { kind: number; name: string; attributes: OtlpKv[] }[] }[] }) =>
        rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => ({ res: attrs(rs.resource.attributes), kind: s.kind, name: s.name, a: attrs(s.attributes) }))),
      ),
    );
    const serverSpans = spans.filter((s) => s.res['process.pid'] === server!.pid || s.res['process.pid'] === String(server!.pid));
    expect(serverSpans).toHaveLength(3);
    for (const s of serverSpans) {
      expect(s.kind).toBe(2);
      expect(s.name).toBe('GET /users/{id}');
      expect(s.a['url.path']).toBe('/users/123');
      expect(s.a['http.route']).toBe('/users/{id}');
    }
    // the last metrics line holding this server's histogram has count 3 (cumulative)
    let count = -1;
    for (const l of lines)
      for (const rm of l.resourceMetrics ?? [])
        if (String(attrs(rm.resource.attributes)['process.pid']) === String(server!.pid))
          for (const sm of rm.scopeMetrics) for (const m of sm.metrics) if (m.name === 'http.server.request.duration') count = Number(m.histogram.dataPoints[0].count);
    expect(count).toBe(3);
    expect(fileText).not.toContain('secret');
    expect(fileText).not.toContain('token');
  });

  for (const name of SERVER_NAMES) {
    it.runIf(bpf.ok)(`${name}: SERVER and CLIENT spans and both histograms arrive in the file, exactly`, () => {
      const s = servers.get(name)!;
      const runs = curlRuns.get(name)!;
      expect(runs.map((r) => r.code)).toEqual(Array(REQUESTS).fill(200));
      const curlPid = runs[0]!.pid;
      const lines = fileText.trim().split('\n').map((l) => JSON.parse(l) as OtlpLine);
      const spans = fileSpans(lines);
      const pidOf = (x: { res: Record<string, unknown> }) => Number(x.res['process.pid']);
      const srv = spans.filter((x) => pidOf(x) === s.pid);
      const cli = spans.filter((x) => pidOf(x) === curlPid);
      expect(srv).toHaveLength(REQUESTS);
      expect(cli).toHaveLength(REQUESTS);
      for (const x of [...srv, ...cli]) {
        expect(x.name).toBe('GET /users/{id}');
        expect(x.a['url.path']).toBe('/users/123');
        expect(x.a['http.route']).toBe('/users/{id}');
        expect(Number(x.a['http.response.status_code'])).toBe(200);
        expect(Number(x.a['server.port'])).toBe(s.port);
        expect(x.end).toBeGreaterThan(x.start);
      }
      for (const x of srv) expect(x.kind).toBe(2); // SPAN_KIND_SERVER
      // the server's peer is curl's end of the socket, request by request
      expect(srv.map((x) => Number(x.a['network.peer.port'])).sort()).toEqual(runs.map((r) => r.localPort).sort());
      for (const x of cli) {
        expect(x.kind).toBe(3); // SPAN_KIND_CLIENT
        expect(x.res['process.executable.name']).toBe('curl');
        expect(Number(x.a['network.peer.port'])).toBe(s.port);
      }
      // Histograms: the newest cumulative point of each series, from the server's process and from curl's.
      const server = latestPoints(lines, 'http.server.request.duration').filter((p) => pidOf(p) === s.pid);
      const client = latestPoints(lines, 'http.client.request.duration').filter((p) => pidOf(p) === curlPid);
      expect(server.map((p) => [p.a['http.request.method'], Number(p.a['http.response.status_code']), p.a['http.route'], Number(p.a['server.port']), p.count])).toEqual([['GET', 200, '/users/{id}', s.port, REQUESTS]]);
      expect(client.map((p) => [p.a['http.request.method'], Number(p.a['http.response.status_code']), p.a['server.address'], Number(p.a['server.port']), p.count])).toEqual([['GET', 200, '127.0.0.1', s.port, REQUESTS]]);
      for (const p of [...server, ...client]) {
        expect(p.explicitBounds).toEqual(SEMCONV_BOUNDS);
        expect(p.bucketCounts).toHaveLength(SEMCONV_BOUNDS.length + 1);
        expect(p.bucketCounts.reduce((a, b) => a + b, 0)).toBe(p.count);
      }
    });
  }

  it.runIf(bpf.ok)('nothing else: every span and histogram point in the file is one of these', () => {
    const lines = fileText.trim().split('\n').map((l) => JSON.parse(l) as OtlpLine);
    const spans = fileSpans(lines);
    expect(spans.filter((x) => x.kind === 2)).toHaveLength(REQUESTS * servers.size);
    expect(spans.filter((x) => x.kind === 3)).toHaveLength(REQUESTS * servers.size);
    expect(spans).toHaveLength(2 * REQUESTS * servers.size);
    const count = (metric: string) => latestPoints(lines, metric).reduce((n, p) => n + p.count, 0);
    expect(count('http.server.request.duration')).toBe(REQUESTS * servers.size);
    expect(count('http.client.request.duration')).toBe(REQUESTS * servers.size);
  });

  it.runIf(bpf.ok)('counts the records in its own /metrics', () => {
    expect(promValue(metricsText, 'sonde_ebpf_events_total', { program: 'http' })).toBeGreaterThanOrEqual(6);
    expect(promValue(metricsText, 'sonde_ebpf_http_requests_total', { side: 'server' })).toBeGreaterThanOrEqual(3);
    // exactly: every server's and curl's side of each request, nothing more
    expect(promValue(metricsText, 'sonde_ebpf_events_total', { program: 'http' })).toBe(2 * REQUESTS * servers.size);
    expect(promValue(metricsText, 'sonde_ebpf_http_requests_total', { side: 'server' })).toBe(REQUESTS * servers.size);
    expect(promValue(metricsText, 'sonde_ebpf_http_requests_total', { side: 'client' })).toBe(REQUESTS * servers.size);
    // every loss counter is exported from the start, and nothing was lost in this scoped run
    for (const program of ['http', 'http_unpaired', 'http_decoder']) expect(promValue(metricsText, 'sonde_ebpf_events_lost_total', { program }), program).toBe(0);
    // Kernel-skipped runs depend on other BPF programs on the host (other tests): exported, not necessarily 0.
    expect(promValue(metricsText, 'sonde_ebpf_events_lost_total', { program: 'http_missed' })).toBeGreaterThanOrEqual(0);
    expect(metricsText).not.toContain('secret');
  });
});
