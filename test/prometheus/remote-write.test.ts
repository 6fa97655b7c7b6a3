import { afterEach, describe, expect, it } from 'vitest';
import type { Exporter } from '../../src/component/types.js';
import { prometheusRemoteWriteExporterFactory } from '../../src/exporters/prometheusremotewrite/factory.js';
import { buildSeries, splitRequests } from '../../src/exporters/prometheusremotewrite/build-requests.js';
import { parseRetryAfter } from '../../src/exporters/prometheusremotewrite/push.js';
import { compressBody, decodeWriteRequestBody, encodeWriteRequest } from '../../src/exporters/prometheusremotewrite/write-request.js';
import { DeltaToCumulative, translateMetrics } from '../../src/exporters/prometheus-naming/index.js';
import { CaptureServer } from './support/capture-server.js';
import { counterValue, testSettings } from './support/settings.js';
import { tcpBatch } from './support/tcp-metrics.js';
import { pollUntil } from '../helpers/poll.js';

const T0 = BigInt(Date.now()) * 1_000_000n;
const S = 1_000_000_000n;
const servers: CaptureServer[] = [];
const exporters: Exporter[] = [];

afterEach(async () => {
  for (const e of exporters.splice(0)) await e.shutdown();
  for (const s of servers.splice(0)) await s.stop();
});

async function setup(extra: Record<string, unknown> = {}) {
  const server = new CaptureServer();
  servers.push(server);
  const endpoint = await server.start();
  const t = testSettings('prometheusremotewrite');
  const d = prometheusRemoteWriteExporterFactory.createDefaultConfig();
  const config = {
    ...d,
    endpoint,
    retry_on_failure: { enabled: true, initial_interval: '10ms', max_interval: '50ms', max_elapsed_time: '30s' },
    ...extra,
  };
  const exporter = prometheusRemoteWriteExporterFactory.create(t.settings, config);
  exporters.push(exporter);
  await exporter.start();
  return { server, exporter, ...t };
}

const interval = (i: number, port = 8080) =>
  tcpBatch({ timeUnixNano: T0 + BigInt(i) * S, startTimeUnixNano: T0 + BigInt(i - 1) * S, serverPort: port, connects: 2, durations: [0.0002, 0.02], temporality: 'delta' });

function seriesOf(server: CaptureServer, name: string): Map<string, { timestamp: number; value: number }[]> {
  const out = new Map<string, { timestamp: number; value: number }[]>();
  for (const r of server.requests) {
    if (r.status >= 300) continue;
    for (const ts of r.body.timeseries) {
      if (ts.labels.find((l) => l.name === '__name__')?.value !== name) continue;
      const key = ts.labels.map((l) => `${l.name}=${l.value}`).join(',');
      const list = out.get(key) ?? [];
      list.push(...ts.samples);
      out.set(key, list);
    }
  }
  return out;
}

describe('remote-write encoding', () => {
  it('round-trips a WriteRequest through protobuf and snappy', () => {
    const req = {
      timeseries: [
        { labels: [{ name: '__name__', value: 'up' }, { name: 'job', value: 'x' }], samples: [{ value: 1.5, timestamp: 1_700_000_000_123 }] },
      ],
    };
    const body = compressBody(encodeWriteRequest(req));
    expect(decodeWriteRequestBody(body)).toEqual(req);
  });

  it('emits sorted labels with __name__, +Inf = _count, and splits by max samples in order', () => {
    const t = translateMetrics(interval(1), {
      namespace: '',
      resourceCopy: { enabled: false, attributes: [] },
      cumulative: new DeltaToCumulative({ maxStaleMs: 0 }),
      targetInfo: true,
    });
    const series = buildSeries(t.families);
    // 1 counter + 10 buckets + count + sum + target_info
    expect(series).toHaveLength(14);
    for (const s of series) {
      const names = s.labels.map((l) => l.name);
      expect(names).toEqual([...names].sort());
      expect(names).toContain('__name__');
    }
    const upper = buildSeries([{ name: 'm', type: 'gauge', help: '', unit: '', points: [{ labels: [{ name: 'A', value: '1' }], timestampMs: 1, value: 1 }] }]);
    expect(upper[0]!.labels.map((l) => l.name)).toEqual(['A', '__name__']);
    const inf = series.find((s) => s.labels.some((l) => l.name === 'le' && l.value === '+Inf'))!;
    const count = series.find((s) => s.labels.some((l) => l.value === 'sonde_tcp_connect_duration_seconds_count'))!;
    expect(inf.samples[0]!.value).toBe(2);
    expect(count.samples[0]!.value).toBe(2);
    const reqs = splitRequests(series, 5);
    expect(reqs.map((r) => r.samples)).toEqual([5, 5, 4]);
    expect(reqs.reduce((n, r) => n + r.items, 0)).toBe(2);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
  });
});

describe('prometheusremotewrite exporter', () => {
  it('sends the required headers and cumulative values', async () => {
    const { server, exporter, telemetry } = await setup();
    for (let i = 1; i <= 3; i++) await exporter.consume(interval(i));
    await exporter.shutdown();
    expect(server.requests).toHaveLength(3);
    const h = server.requests[0]!.headers;
    expect(h['content-encoding']).toBe('snappy');
    expect(h['content-type']).toBe('application/x-protobuf');
    expect(h['x-prometheus-remote-write-version']).toBe('0.1.0');
    expect(h['user-agent']).toMatch(/^Sonde\/\d/);
    const conns = [...seriesOf(server, 'sonde_tcp_connections_total').values()];
    expect(conns).toHaveLength(1);
    expect(conns[0]!.map((s) => s.value)).toEqual([2, 4, 6]);
    const info = [...seriesOf(server, 'target_info').keys()];
    expect(info).toEqual(['__name__=target_info,host_name=test-host,instance=test-host:4242,job=sonde-prom-test,process_executable_name=node,process_pid=4242']);
    expect(await counterValue(telemetry, 'sonde_exporter_sent_items_total', 'prometheusremotewrite')).toBe(6);
  });

  it('passes custom headers and splits a batch by max_samples_per_request', async () => {
    const { server, exporter } = await setup({ max_samples_per_request: 4, headers: { 'X-Scope-OrgID': 'tenant-a' } });
    await exporter.consume(interval(1));
    await exporter.shutdown();
    expect(server.requests.map((r) => r.body.timeseries.reduce((n, t) => n + t.samples.length, 0))).toEqual([4, 4, 4, 2]);
    expect(server.requests[0]!.headers['x-scope-orgid']).toBe('tenant-a');
  });

  it('reports a 400 once, counts it, never retries it, and keeps sending later batches', async () => {
    const { server, exporter, telemetry, logs } = await setup();
    server.reply = (_req, n) => (n === 0 ? { status: 400, body: 'invalid label name "1bad"' } : { status: 204 });
    await exporter.consume(interval(1));
    await exporter.consume(interval(2));
    await exporter.shutdown();
    expect(server.requests.map((r) => r.status)).toEqual([400, 204]);
    expect(await counterValue(telemetry, 'sonde_exporter_send_failed_items_total', 'prometheusremotewrite')).toBe(2);
    expect(await counterValue(telemetry, 'sonde_exporter_sent_items_total', 'prometheusremotewrite')).toBe(2);
    expect(await counterValue(telemetry, 'sonde_exporter_retries_total', 'prometheusremotewrite')).toBe(0);
    const reports = logs.filter((l) => l.level === 'warn' || l.level === 'error');
    expect(reports).toHaveLength(1);
    expect(reports[0]!.obj['code']).toBe('SONDE_PROMETHEUS_REMOTE_WRITE_REJECTED');
    expect(String(reports[0]!.obj['err'])).toContain('invalid label name');
    // The cumulative total still includes the refused interval's connects.
    const conns = [...seriesOf(server, 'sonde_tcp_connections_total').values()][0]!;
    expect(conns.map((s) => s.value)).toEqual([4]);
  });

  it('retries 5xx and 429 and keeps every series in timestamp order', async () => {
    const { server, exporter, telemetry } = await setup({ max_samples_per_request: 7 });
    // Fail requests 0-4 and 8 with retryable statuses while newer batches keep arriving.
    server.reply = (_req, n) => (n < 3 ? { status: 503 } : n < 5 ? { status: 429, headers: { 'Retry-After': '0' } } : n === 8 ? { status: 500 } : { status: 204 });
    for (let i = 1; i <= 10; i++) await exporter.consume(interval(i));
    // Let the queue empty before shutdown: its drain is bounded (5 s) and ~26 requests with
    // backoffs must not race that bound on a loaded machine. Bounded here too, generously.
    await pollUntil(async () => (await counterValue(telemetry, 'sonde_exporter_queue_items', 'prometheusremotewrite')) === 0, 30_000, 20);
    await exporter.shutdown();
    const ok = server.requests.filter((r) => r.status === 204);
    expect(server.requests.length - ok.length).toBe(6);
    expect(await counterValue(telemetry, 'sonde_exporter_retries_total', 'prometheusremotewrite')).toBe(6);
    for (const name of ['sonde_tcp_connections_total', 'sonde_tcp_connect_duration_seconds_bucket', 'sonde_tcp_connect_duration_seconds_count']) {
      for (const samples of seriesOf(server, name).values()) {
        expect(samples).toHaveLength(10);
        for (let i = 1; i < samples.length; i++) expect(samples[i]!.timestamp).toBeGreaterThan(samples[i - 1]!.timestamp);
      }
    }
    const conns = [...seriesOf(server, 'sonde_tcp_connections_total').values()][0]!;
    expect(conns[conns.length - 1]!.value).toBe(20);
    expect(await counterValue(telemetry, 'sonde_exporter_sent_items_total', 'prometheusremotewrite')).toBe(20);
    expect(await counterValue(telemetry, 'sonde_exporter_send_failed_items_total', 'prometheusremotewrite')).toBe(0);
  });

  it('rejects num_consumers above 1 in its schema and defaults to 1', () => {
    const schema = prometheusRemoteWriteExporterFactory.configSchema as { properties: Record<string, { properties: Record<string, { maximum?: number }> }> };
    expect(schema.properties['sending_queue']!.properties['num_consumers']!.maximum).toBe(1);
    expect(prometheusRemoteWriteExporterFactory.createDefaultConfig().sending_queue.num_consumers).toBe(1);
  });

  it('shutdown is idempotent and safe before start', async () => {
    const t = testSettings('prometheusremotewrite/idle');
    const e = prometheusRemoteWriteExporterFactory.create(t.settings, { ...prometheusRemoteWriteExporterFactory.createDefaultConfig(), endpoint: 'http://127.0.0.1:9/api/v1/write' });
    await e.shutdown();
    await e.shutdown();
  });
});
