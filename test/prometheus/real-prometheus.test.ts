// Sonde's Prometheus exporters against a real Prometheus (Debian package) on 127.0.0.1: remote
// write in, PromQL out; the same Prometheus scraping Sonde's endpoint; an outage of 20 s during a
// steady stream; and a 400 from Prometheus itself. Components are wired through their factories
// and the service fan-out, fed with TCP metrics from real connects (shaped like the eBPF receiver).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consumer, Exporter } from '../../src/component/types.js';
import { prometheusExporterFactory } from '../../src/exporters/prometheus/factory.js';
import type { PrometheusExporter } from '../../src/exporters/prometheus/prometheus-exporter.js';
import { prometheusRemoteWriteExporterFactory } from '../../src/exporters/prometheusremotewrite/factory.js';
import { AggregationTemporality, type MetricsBatch } from '../../src/pdata/types.js';
import { createFanout } from '../../src/service/fanout.js';
import { TestPrometheus, prometheusAvailable } from './support/prometheus-server.js';
import { counterValue, testSettings, type TestSettings } from './support/settings.js';
import { TcpMetricsSimulator, TcpTarget } from './support/tcp-simulator.js';

const available = prometheusAvailable();
if (!available && process.env['CI'] === 'true') {
  throw new Error('prometheus is not installed: run scripts/setup-test-env.sh (Debian package `prometheus`)');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!available)('against a real Prometheus', () => {
  let prom: TestPrometheus;
  let scrape: PrometheusExporter;
  const target = new TcpTarget();

  function remoteWrite(key: string, extra: Record<string, unknown> = {}): { exporter: Exporter } & TestSettings {
    const t = testSettings(key);
    const config = {
      ...prometheusRemoteWriteExporterFactory.createDefaultConfig(),
      endpoint: prom.remoteWriteUrl,
      timeout: '2s',
      retry_on_failure: { enabled: true, initial_interval: '200ms', max_interval: '1s', max_elapsed_time: 0 as const },
      ...extra,
    };
    return { exporter: prometheusRemoteWriteExporterFactory.create(t.settings, config), ...t };
  }

  beforeAll(async () => {
    await target.start();
    const t = testSettings('prometheus');
    scrape = prometheusExporterFactory.create(t.settings, { ...prometheusExporterFactory.createDefaultConfig(), endpoint: '127.0.0.1:0' }) as PrometheusExporter;
    await scrape.start();
    prom = await TestPrometheus.start([{ job: 'sonde-scrape', targets: [`127.0.0.1:${scrape.address()!.port}`] }]);
  });

  afterAll(async () => {
    await prom?.destroy();
    await scrape?.shutdown();
    await target.stop();
  });

  it('remote write and scrape both give the number of connects made, with a consistent histogram', async () => {
    const rw = remoteWrite('prometheusremotewrite');
    await rw.exporter.start();
    const pipeline: Consumer = createFanout([rw.exporter, scrape]);
    const sim = new TcpMetricsSimulator(target.port);
    for (const n of [3, 5, 2, 4, 6]) {
      await sim.connect(n);
      await pipeline.consume(sim.emit());
      await sleep(20);
    }
    expect(sim.total).toBe(20);
    const sel = `job="sonde-prom-test",server_port="${target.port}"`;
    expect(await prom.waitFor(`sonde_tcp_connections_total{${sel}}`, (v) => v === 20)).toBe(20);
    const count = await prom.value(`sonde_tcp_connect_duration_seconds_count{${sel}}`);
    const inf = await prom.value(`sonde_tcp_connect_duration_seconds_bucket{${sel},le="+Inf"}`);
    expect(count).toBe(20);
    expect(inf).toBe(count);
    const buckets = (await prom.query(`sonde_tcp_connect_duration_seconds_bucket{${sel}}`))
      .map((s) => ({ le: s.metric['le'] === '+Inf' ? Infinity : Number(s.metric['le']), v: s.value }))
      .sort((a, b) => a.le - b.le);
    expect(buckets).toHaveLength(10);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.v).toBeGreaterThanOrEqual(buckets[i - 1]!.v);
    const info = await prom.query(`target_info{job="sonde-prom-test"}`);
    expect(info.map((s) => s.metric['host_name'])).toContain('test-host');
    expect(await prom.value(`histogram_quantile(1, sum by (le) (sonde_tcp_connect_duration_seconds_bucket{${sel}}))`)).toBeGreaterThan(0);

    // The same Prometheus scraping Sonde's endpoint sees the same totals (its own job label;
    // Sonde's job/instance become exported_job/exported_instance).
    const scraped = `job="sonde-scrape",exported_job="sonde-prom-test",server_port="${target.port}"`;
    expect(await prom.waitFor(`sonde_tcp_connections_total{${scraped}}`, (v) => v === 20)).toBe(20);
    expect(await prom.waitFor(`sonde_tcp_connect_duration_seconds_count{${scraped}}`, (v) => v === 20)).toBe(20);
    expect(await prom.value(`sonde_tcp_connect_duration_seconds_bucket{${scraped},le="+Inf"}`)).toBe(20);

    await rw.exporter.shutdown();
    expect(await counterValue(rw.telemetry, 'sonde_exporter_sent_items_total', 'prometheusremotewrite')).toBe(10);
    expect(await counterValue(rw.telemetry, 'sonde_exporter_send_failed_items_total', 'prometheusremotewrite')).toBe(0);
  });

  it('loses nothing and sends nothing out of order while Prometheus is down for 20 s', async () => {
    const other = new TcpTarget();
    await other.start();
    const rw = remoteWrite('prometheusremotewrite/outage');
    await rw.exporter.start();
    const pipeline = createFanout([rw.exporter, scrape]);
    const sim = new TcpMetricsSimulator(other.port, 'sonde-outage');
    const logStart = prom.log().length;
    const t0 = Date.now();
    let stoppedAt = 0;
    let restarted = false;
    // A steady, bounded stream: one collection tick with 2 connects every 250 ms, at most 160 ticks.
    // It ends 4 s after the restart but never before 60 ticks, so a slow machine (longer ticks)
    // still sends the >100 connects asserted below.
    for (let tick = 0; tick < 160; tick++) {
      await sim.connect(2);
      await pipeline.consume(sim.emit());
      const elapsed = Date.now() - t0;
      if (stoppedAt === 0 && elapsed > 3_000) {
        await prom.stop();
        stoppedAt = Date.now();
      }
      if (stoppedAt > 0 && !restarted && Date.now() - stoppedAt >= 20_000) {
        await prom.launch();
        restarted = true;
      }
      if (restarted && Date.now() - stoppedAt > 24_000 && tick >= 60) break;
      await sleep(250);
    }
    expect(restarted).toBe(true);
    const total = sim.total;
    expect(total).toBeGreaterThan(100);
    const sel = `job="sonde-outage",server_port="${other.port}"`;
    expect(await prom.waitFor(`sonde_tcp_connections_total{${sel}}`, (v) => v === total, 30_000)).toBe(total);
    expect(await prom.value(`sonde_tcp_connect_duration_seconds_count{${sel}}`)).toBe(total);
    expect(await prom.value(`sonde_tcp_connect_duration_seconds_bucket{${sel},le="+Inf"}`)).toBe(total);
    // Every sample of the outage was stored: one per tick, none rejected.
    const ticks = await prom.value(`count_over_time(sonde_tcp_connections_total{${sel}}[10m])`);
    expect(ticks).toBe(total / 2);
    const scraped = `job="sonde-scrape",exported_job="sonde-outage",server_port="${other.port}"`;
    expect(await prom.waitFor(`sonde_tcp_connections_total{${scraped}}`, (v) => v === total)).toBe(total);

    await rw.exporter.shutdown();
    await other.stop();
    const log = prom.log().slice(logStart);
    expect(log).not.toMatch(/out.of.order|out of bounds|duplicate sample/i);
    expect(await prom.selfMetric('prometheus_tsdb_out_of_order_samples_total')).toBe(0);
    expect(await counterValue(rw.telemetry, 'sonde_exporter_retries_total', 'prometheusremotewrite/outage')).toBeGreaterThan(0);
    expect(await counterValue(rw.telemetry, 'sonde_exporter_send_failed_items_total', 'prometheusremotewrite/outage')).toBe(0);
    expect(await counterValue(rw.telemetry, 'sonde_exporter_sent_items_total', 'prometheusremotewrite/outage')).toBe(2 * (total / 2));
  }, 120_000);

  it('a 400 from Prometheus (duplicate sample) is reported once, counted, and not retried', async () => {
    const rw = remoteWrite('prometheusremotewrite/bad');
    await rw.exporter.start();
    const t = BigInt(Date.now()) * 1_000_000n;
    const gauge = (value: number): MetricsBatch => ({
      signal: 'metrics',
      resourceMetrics: [
        {
          resource: { attributes: { 'service.name': 'sonde-bad' } },
          scopeMetrics: [
            {
              scope: { name: 'test' },
              metrics: [
                {
                  name: 'sonde.test.total_conns',
                  unit: '{connection}',
                  type: 'sum',
                  isMonotonic: true,
                  aggregationTemporality: AggregationTemporality.CUMULATIVE,
                  dataPoints: [{ attributes: { 'server.port': 1 }, startTimeUnixNano: t - 1_000_000_000n, timeUnixNano: t, value }],
                },
              ],
            },
          ],
        },
      ],
    });
    await rw.exporter.consume(gauge(5));
    await rw.exporter.consume(gauge(6)); // same series, same timestamp, other value
    await rw.exporter.shutdown();
    expect(await counterValue(rw.telemetry, 'sonde_exporter_sent_items_total', 'prometheusremotewrite/bad')).toBe(1);
    expect(await counterValue(rw.telemetry, 'sonde_exporter_send_failed_items_total', 'prometheusremotewrite/bad')).toBe(1);
    expect(await counterValue(rw.telemetry, 'sonde_exporter_retries_total', 'prometheusremotewrite/bad')).toBe(0);
    const reports = rw.logs.filter((l) => l.level === 'warn' || l.level === 'error');
    expect(reports).toHaveLength(1);
    expect(reports[0]!.obj['code']).toBe('SONDE_PROMETHEUS_REMOTE_WRITE_REJECTED');
    expect(String(reports[0]!.obj['err'])).toMatch(/HTTP 400/);
    expect(await prom.value('sonde_test_total_conns_total{job="sonde-bad"}')).toBe(5);
  });
});
