// End to end with real connects: the `ebpf` receiver (TCP only) -> fan-out -> `prometheusremotewrite`
// and `prometheus` exporters -> a real Prometheus. Needs root and BPF (see docs/kernel notes);
// under CI=true a missing Prometheus or a receiver that cannot start fails the test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Receiver } from '../../src/component/types.js';
import { mergeOverDefaults } from '../../src/config/merge.js';
import { prometheusExporterFactory } from '../../src/exporters/prometheus/factory.js';
import type { PrometheusExporter } from '../../src/exporters/prometheus/prometheus-exporter.js';
import { prometheusRemoteWriteExporterFactory } from '../../src/exporters/prometheusremotewrite/factory.js';
import { ebpfReceiverFactory } from '../../src/receivers/ebpf/factory.js';
import { createFanout } from '../../src/service/fanout.js';
import { TestPrometheus, prometheusAvailable } from './support/prometheus-server.js';
import { counterValue, testSettings } from './support/settings.js';
import { TcpTarget, connectOnce } from './support/tcp-simulator.js';

const CI = process.env['CI'] === 'true';
const available = prometheusAvailable();
if (!available && CI) throw new Error('prometheus is not installed: run scripts/setup-test-env.sh');
const isRoot = process.getuid?.() === 0;

describe.skipIf(!available || (!isRoot && !CI))('eBPF TCP metrics into a real Prometheus', () => {
  let prom: TestPrometheus;
  let scrape: PrometheusExporter;
  let receiver: Receiver | undefined;
  const target = new TcpTarget();
  const rw = testSettings('prometheusremotewrite');
  let rwExporter: ReturnType<typeof prometheusRemoteWriteExporterFactory.create>;

  beforeAll(async () => {
    await target.start();
    scrape = prometheusExporterFactory.create(testSettings('prometheus').settings, {
      ...prometheusExporterFactory.createDefaultConfig(),
      endpoint: '127.0.0.1:0',
    }) as PrometheusExporter;
    await scrape.start();
    prom = await TestPrometheus.start([{ job: 'sonde-scrape', targets: [`127.0.0.1:${scrape.address()!.port}`] }]);
    rwExporter = prometheusRemoteWriteExporterFactory.create(rw.settings, {
      ...prometheusRemoteWriteExporterFactory.createDefaultConfig(),
      endpoint: prom.remoteWriteUrl,
      retry_on_failure: { enabled: true, initial_interval: '200ms', max_interval: '1s', max_elapsed_time: 0 as const },
    });
    await rwExporter.start();
    const config = mergeOverDefaults(ebpfReceiverFactory.createDefaultConfig(), {
      collection_interval: '1s',
      include: { ports: [target.port] },
      http: { enabled: false },
    }) as ReturnType<typeof ebpfReceiverFactory.createDefaultConfig>;
    receiver = ebpfReceiverFactory.create(testSettings('ebpf').settings, config, { metrics: createFanout([rwExporter, scrape]) });
    await receiver.start();
  });

  afterAll(async () => {
    await receiver?.shutdown();
    await rwExporter?.shutdown();
    await prom?.destroy();
    await scrape?.shutdown();
    await target.stop();
  });

  it('sonde_tcp_connections_total equals the connects made, via remote write and via scrape', async () => {
    const connects = 25;
    for (let i = 0; i < connects; i++) await connectOnce(target.port);
    const out = `network_tcp_direction="outbound",sonde_tcp_outcome="success",server_port="${target.port}"`;
    const written = `job!="sonde-scrape",${out}`;
    expect(await prom.waitFor(`sum(sonde_tcp_connections_total{${written}})`, (v) => v === connects, 30_000)).toBe(connects);
    expect(await prom.value(`sum(sonde_tcp_connect_duration_seconds_count{${written}})`)).toBe(connects);
    expect(await prom.value(`sum(sonde_tcp_connect_duration_seconds_bucket{${written},le="+Inf"})`)).toBe(connects);
    const scraped = `job="sonde-scrape",${out}`;
    expect(await prom.waitFor(`sum(sonde_tcp_connections_total{${scraped}})`, (v) => v === connects, 30_000)).toBe(connects);
    expect(await prom.value(`sum(sonde_tcp_connect_duration_seconds_bucket{${scraped},le="+Inf"})`)).toBe(connects);
    expect(await counterValue(rw.telemetry, 'sonde_exporter_send_failed_items_total', 'prometheusremotewrite')).toBe(0);
  }, 90_000);
});
