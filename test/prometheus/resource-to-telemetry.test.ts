// resource_to_telemetry_conversion end to end: with the option on, the chosen resource attributes
// are labels of every series in a real Prometheus, both through the `prometheus` scrape endpoint
// (Prometheus scrapes it) and through `prometheusremotewrite`; attributes not chosen stay on
// target_info only, and with the option off no series carries them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Exporter } from '../../src/component/types.js';
import { prometheusExporterFactory } from '../../src/exporters/prometheus/factory.js';
import type { PrometheusExporter } from '../../src/exporters/prometheus/prometheus-exporter.js';
import { prometheusRemoteWriteExporterFactory } from '../../src/exporters/prometheusremotewrite/factory.js';
import type { MetricsBatch } from '../../src/pdata/types.js';
import { freePort } from '../helpers/free-port.js';
import { TestPrometheus, prometheusAvailable } from './support/prometheus-server.js';
import { counterValue, testSettings } from './support/settings.js';
import { tcpBatch } from './support/tcp-metrics.js';

const available = prometheusAvailable();
if (!available && process.env['CI'] === 'true') {
  throw new Error('prometheus is not installed: run scripts/setup-test-env.sh (Debian package `prometheus`)');
}

const COPY = { enabled: true, attributes: ['k8s.pod.name', 'host.name'] };

/** Cumulative TCP metrics of one service, stamped now, with a pod name among the resource attributes. */
function batch(serviceName: string, serverPort: number, connects: number): MetricsBatch {
  const now = BigInt(Date.now()) * 1_000_000n;
  const b = tcpBatch({ timeUnixNano: now, startTimeUnixNano: now - 10_000_000_000n, serverPort, connects, durations: [0.001], temporality: 'cumulative', serviceName });
  b.resourceMetrics[0]!.resource.attributes['k8s.pod.name'] = 'checkout-7d4b9';
  return b;
}

describe.skipIf(!available)('resource_to_telemetry_conversion against a real Prometheus', () => {
  let prom: TestPrometheus;
  let scrape: PrometheusExporter;
  let scrapePort = 0;
  const writers: Exporter[] = [];

  beforeAll(async () => {
    scrapePort = await freePort();
    const t = testSettings('prometheus/rtt');
    scrape = prometheusExporterFactory.create(t.settings, {
      ...prometheusExporterFactory.createDefaultConfig(),
      endpoint: `127.0.0.1:${scrapePort}`,
      resource_to_telemetry_conversion: COPY,
    }) as PrometheusExporter;
    await scrape.start();
    prom = await TestPrometheus.start([{ job: 'sonde-scrape-rtt', targets: [`127.0.0.1:${scrapePort}`] }]);
  });

  afterAll(async () => {
    for (const w of writers) await w.shutdown();
    await prom?.destroy();
    await scrape?.shutdown();
  });

  function remoteWrite(key: string, copy: { enabled: boolean; attributes: string[] }) {
    const t = testSettings(key);
    const exporter = prometheusRemoteWriteExporterFactory.create(t.settings, {
      ...prometheusRemoteWriteExporterFactory.createDefaultConfig(),
      endpoint: prom.remoteWriteUrl,
      timeout: '2s',
      resource_to_telemetry_conversion: copy,
    });
    writers.push(exporter);
    return { exporter, ...t };
  }

  it('remote write: every series carries the chosen resource attributes as labels, and only those', async () => {
    const rw = remoteWrite('prometheusremotewrite/rtt', COPY);
    await rw.exporter.start();
    await rw.exporter.consume(batch('sonde-rtt-rw', 7001, 9));
    await rw.exporter.shutdown();
    expect(await counterValue(rw.telemetry, 'sonde_exporter_sent_items_total', 'prometheusremotewrite/rtt')).toBe(2);

    const sel = 'job="sonde-rtt-rw",server_port="7001"';
    expect(await prom.waitFor(`sonde_tcp_connections_total{${sel},k8s_pod_name="checkout-7d4b9",host_name="test-host"}`, (v) => v === 9)).toBe(9);
    const [series] = await prom.query(`sonde_tcp_connections_total{${sel}}`);
    expect(series!.metric).toMatchObject({ k8s_pod_name: 'checkout-7d4b9', host_name: 'test-host', instance: 'test-host:4242' });
    expect(series!.metric['process_pid']).toBeUndefined(); // a resource attribute not in the list
    // The histogram's series carry them too, on every bucket.
    const buckets = await prom.query(`sonde_tcp_connect_duration_seconds_bucket{${sel}}`);
    expect(buckets).toHaveLength(10);
    for (const b of buckets) expect(b.metric['k8s_pod_name']).toBe('checkout-7d4b9');
    expect(await prom.value(`sonde_tcp_connect_duration_seconds_count{${sel},k8s_pod_name="checkout-7d4b9"}`)).toBe(1);
    // target_info still has every resource attribute.
    const info = await prom.query('target_info{job="sonde-rtt-rw"}');
    expect(info.map((s) => s.metric['process_pid'])).toEqual(['4242']);
  });

  it('remote write with the option off: the attribute is on target_info only', async () => {
    const rw = remoteWrite('prometheusremotewrite/plain', { enabled: false, attributes: [] });
    await rw.exporter.start();
    await rw.exporter.consume(batch('sonde-rtt-plain', 7002, 4));
    await rw.exporter.shutdown();
    const sel = 'job="sonde-rtt-plain",server_port="7002"';
    expect(await prom.waitFor(`sonde_tcp_connections_total{${sel}}`, (v) => v === 4)).toBe(4);
    const [series] = await prom.query(`sonde_tcp_connections_total{${sel}}`);
    expect(series!.metric['k8s_pod_name']).toBeUndefined();
    expect(series!.metric['host_name']).toBeUndefined();
    expect((await prom.query('target_info{job="sonde-rtt-plain"}')).map((s) => s.metric['k8s_pod_name'])).toEqual(['checkout-7d4b9']);
  });

  it('scrape endpoint: Prometheus scraping it stores the chosen resource attributes on every series', async () => {
    await scrape.consume(batch('sonde-rtt-scrape', 7003, 6));
    const text = await (await fetch(`http://127.0.0.1:${scrapePort}/metrics`)).text();
    expect(text).toMatch(/\nsonde_tcp_connections_total\{[^}]*host_name="test-host"[^}]*k8s_pod_name="checkout-7d4b9"[^}]*\} 6\n/);

    const sel = 'job="sonde-scrape-rtt",exported_job="sonde-rtt-scrape",server_port="7003"';
    expect(await prom.waitFor(`sonde_tcp_connections_total{${sel},k8s_pod_name="checkout-7d4b9",host_name="test-host"}`, (v) => v === 6)).toBe(6);
    const [series] = await prom.query(`sonde_tcp_connections_total{${sel}}`);
    expect(series!.metric).toMatchObject({ k8s_pod_name: 'checkout-7d4b9', host_name: 'test-host', instance: `127.0.0.1:${scrapePort}`, exported_instance: 'test-host:4242' });
    expect(series!.metric['process_pid']).toBeUndefined();
    const buckets = await prom.query(`sonde_tcp_connect_duration_seconds_bucket{${sel}}`);
    expect(buckets).toHaveLength(10);
    for (const b of buckets) expect(b.metric['k8s_pod_name']).toBe('checkout-7d4b9');
  });
});
