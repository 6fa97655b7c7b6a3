// End to end from the kernel to Jaeger: `sonde run` captures HTTP requests to a Node server with
// the ebpf receiver and exports the spans with `otlp` (gRPC) to one Jaeger v2 and with `otlphttp`
// to another, both started here on 127.0.0.1. Every request carries its own W3C traceparent, so
// each trace in Jaeger must hold exactly the two spans of that request: curl's CLIENT span and the
// server's SERVER span, both children of the traceparent's span, with their HTTP attributes.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBpf } from '../ebpf/bpf-available.js';
import { curl, startNodeServer, type RunningServer } from '../ebpf/http-servers.js';
import { freePort } from '../helpers/free-port.js';
import { pollValue } from '../helpers/poll.js';
import { promValue, startSonde, waitForOk, type SondeProcess } from '../helpers/sonde-process.js';
import { attributeMap, Jaeger, jaegerAvailable, type JaegerSpan } from './jaeger.js';

interface Sent {
  traceId: string;
  parentId: string;
  method: string;
  path: string;
  route: string;
  status: number;
}

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

/** Ten requests, each its own curl process and trace: methods, routes with ids (numeric segments
 * become {id} by the route heuristic), 404 and 500. */
const REQUESTS: ReadonlyArray<Omit<Sent, 'traceId' | 'parentId'>> = [
  { method: 'GET', path: '/orders', route: '/orders', status: 200 },
  { method: 'GET', path: '/orders', route: '/orders', status: 200 },
  { method: 'GET', path: '/users/123', route: '/users/{id}', status: 200 },
  { method: 'GET', path: '/users/456', route: '/users/{id}', status: 200 },
  { method: 'POST', path: '/orders', route: '/orders', status: 200 },
  { method: 'POST', path: '/orders', route: '/orders', status: 200 },
  { method: 'DELETE', path: '/users/7', route: '/users/{id}', status: 200 },
  { method: 'GET', path: '/status/404', route: '/status/{id}', status: 404 },
  { method: 'PUT', path: '/status/404', route: '/status/{id}', status: 404 },
  { method: 'GET', path: '/status/500', route: '/status/{id}', status: 500 },
];

describe('eBPF HTTP spans in Jaeger (real kernel, real Jaeger)', () => {
  const bpf = requireBpf();
  const jaegerOk = jaegerAvailable();
  const ready = bpf.ok && jaegerOk;
  const jaegers: { grpc?: Jaeger; http?: Jaeger } = {};
  let server: RunningServer | undefined;
  let sonde: SondeProcess | undefined;
  let dir = '';
  let admin = 0;
  const sent: Sent[] = [];

  beforeAll(async () => {
    if (!ready) return;
    dir = mkdtempSync(join(tmpdir(), 'sonde-ebpf-jaeger-'));
    jaegers.grpc = await Jaeger.create('memory');
    jaegers.http = await Jaeger.create('memory');
    await Promise.all([jaegers.grpc.start(), jaegers.http.start()]);
    server = await startNodeServer();
    admin = await freePort();
    const config = join(dir, 'pipeline.config.yaml');
    // Scoped to the server's port in the kernel (its SERVER side and curl's CLIENT side), so other
    // HTTP traffic on the machine cannot add spans to these traces.
    writeFileSync(
      config,
      `receivers:
  ebpf:
    collection_interval: 500ms
    tcp: { enabled: false }
    include: { ports: [${server.port}] }
processors:
  batch: { timeout: 200ms }
exporters:
  otlp/jaeger: { endpoint: "${jaegers.grpc.grpcEndpoint}", tls: { insecure: true } }
  otlphttp/jaeger: { endpoint: "${jaegers.http.httpEndpoint}" }
service:
  telemetry: { metrics: { address: "127.0.0.1:${admin}" } }
  pipelines:
    traces/grpc: { receivers: [ebpf], processors: [batch], exporters: [otlp/jaeger] }
    traces/http: { receivers: [ebpf], processors: [batch], exporters: [otlphttp/jaeger] }
`,
    );
    sonde = startSonde(['run', '--config', config]);
    await waitForOk(`http://127.0.0.1:${admin}/readyz`, sonde, 30_000);
    for (const r of REQUESTS) {
      const s: Sent = { ...r, traceId: hex(16), parentId: hex(8) };
      const args = ['-X', s.method, '-H', `traceparent: 00-${s.traceId}-${s.parentId}-01`];
      if (s.method === 'POST' || s.method === 'PUT') args.push('-d', 'item=1');
      const [res] = await curl(args, [`http://127.0.0.1:${server.port}${s.path}?token=secret`]);
      expect(res!.code).toBe(s.status);
      sent.push(s);
    }
  }, 180_000);

  afterAll(async () => {
    if (sonde && sonde.child.exitCode === null) await sonde.stop('SIGKILL');
    await server?.stop();
    await jaegers.grpc?.dispose();
    await jaegers.http?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function expectRequestTrace(spans: JaegerSpan[], s: Sent): void {
    const label = `${s.method} ${s.path} (${s.traceId})`;
    expect(spans.map((x) => x.kind).sort(), label).toEqual([2, 3]); // one SERVER, one CLIENT
    for (const span of spans) {
      expect(span.traceId, label).toBe(s.traceId);
      expect(span.parentSpanId, label).toBe(s.parentId);
      const a = attributeMap(span.attributes);
      expect(a['http.request.method'], label).toBe(s.method);
      expect(a['url.path'], label).toBe(s.path);
      expect(a['http.route'], label).toBe(s.route);
      expect(Number(a['http.response.status_code']), label).toBe(s.status);
      expect(Number(a['server.port']), label).toBe(server!.port);
      expect(JSON.stringify(span), label).not.toContain('secret');
      expect(BigInt(span.endTimeUnixNano!) >= BigInt(span.startTimeUnixNano!), label).toBe(true);
      // Errors: 5xx on SERVER spans, 4xx and 5xx on CLIENT spans (OTLP status code 2).
      const error = span.kind === 2 ? s.status >= 500 : s.status >= 400;
      expect(span.status?.code === 2, label).toBe(error);
    }
    const [serverSpan, clientSpan] = [spans.find((x) => x.kind === 2)!, spans.find((x) => x.kind === 3)!];
    expect(serverSpan.spanId).not.toBe(clientSpan.spanId);
    expect(serverSpan.name, label).toBe(`${s.method} ${s.route}`);
  }

  for (const via of ['grpc', 'http'] as const) {
    it.runIf(ready)(`every request is one trace of exactly two spans in the Jaeger fed by ${via === 'grpc' ? 'otlp' : 'otlphttp'}`, async () => {
      const jaeger = jaegers[via]!;
      expect(sent).toHaveLength(REQUESTS.length);
      for (const s of sent) {
        // Jaeger stores asynchronously: wait (bounded) for both spans, then check there are no more.
        const spans = await jaeger.waitForSpans(s.traceId, 2, 30_000);
        expectRequestTrace(spans, s);
      }
    }, 120_000);
  }

  it.runIf(ready)('both exporters report every span as sent, and Sonde stops cleanly', async () => {
    const want = 2 * REQUESTS.length;
    const metrics = await pollValue(
      async () => (await fetch(`http://127.0.0.1:${admin}/metrics`)).text(),
      (m) =>
        promValue(m, 'sonde_exporter_sent_items_total', { exporter: 'otlp/jaeger' }) >= want &&
        promValue(m, 'sonde_exporter_sent_items_total', { exporter: 'otlphttp/jaeger' }) >= want,
      30_000,
    );
    expect(promValue(metrics, 'sonde_exporter_sent_items_total', { exporter: 'otlp/jaeger' })).toBe(want);
    expect(promValue(metrics, 'sonde_exporter_sent_items_total', { exporter: 'otlphttp/jaeger' })).toBe(want);
    const { code } = await sonde!.stop('SIGTERM');
    expect(code).toBe(0);
  }, 60_000);
});
