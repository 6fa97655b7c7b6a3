// `sonde run` end to end: OTLP/HTTP metrics in (shaped like the eBPF receiver's sonde.tcp.*,
// delta), the `prometheus` and `prometheusremotewrite` exporters out, a real Prometheus both
// receiving remote write and scraping Sonde; totals checked with PromQL and on Sonde's /metrics.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { promValue, startSonde, waitForOk, type SondeProcess } from '../helpers/sonde-process.js';
import { TestPrometheus, prometheusAvailable } from './support/prometheus-server.js';
import { pollValue } from '../helpers/poll.js';

const available = prometheusAvailable();
if (!available && process.env['CI'] === 'true') {
  throw new Error('prometheus is not installed: run scripts/setup-test-env.sh (Debian package `prometheus`)');
}

function otlpJson(t: bigint, start: bigint, connects: number, port: number): unknown {
  const s = (v: string) => ({ stringValue: v });
  const attrs = [
    { key: 'network.tcp.direction', value: s('outbound') },
    { key: 'sonde.tcp.outcome', value: s('success') },
    { key: 'server.address', value: s('127.0.0.1') },
    { key: 'server.port', value: { intValue: String(port) } },
  ];
  return {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: s('sonde-run-e2e') }, { key: 'host.name', value: s('e2e-host') }] },
        scopeMetrics: [
          {
            scope: { name: 'sonde.ebpf.tcp' },
            metrics: [
              {
                name: 'sonde.tcp.connections',
                unit: '{connection}',
                sum: {
                  aggregationTemporality: 1,
                  isMonotonic: true,
                  dataPoints: [{ attributes: attrs, startTimeUnixNano: String(start), timeUnixNano: String(t), asInt: String(connects) }],
                },
              },
              {
                name: 'sonde.tcp.connect.duration',
                unit: 's',
                histogram: {
                  aggregationTemporality: 1,
                  dataPoints: [
                    {
                      attributes: attrs,
                      startTimeUnixNano: String(start),
                      timeUnixNano: String(t),
                      count: String(connects),
                      sum: connects * 0.0004,
                      explicitBounds: [0.0001, 0.001, 0.01],
                      bucketCounts: ['0', String(connects), '0', '0'],
                    },
                  ],
                },
              },
            ],
          },
        ],
      },
    ],
  };
}

describe.skipIf(!available)('sonde run with both Prometheus exporters', () => {
  let prom: TestPrometheus;
  let sonde: SondeProcess | undefined;
  let otlpPort = 0;
  let adminPort = 0;
  const dir = mkdtempSync(join(tmpdir(), 'sonde-prom-run-'));

  beforeAll(async () => {
    const scrapePort = await freePort();
    prom = await TestPrometheus.start([{ job: 'sonde-scrape', targets: [`127.0.0.1:${scrapePort}`] }]);
    otlpPort = await freePort();
    const grpcPort = await freePort();
    adminPort = await freePort();
    const config = `
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${grpcPort} }
      http: { endpoint: 127.0.0.1:${otlpPort} }
exporters:
  prometheus:
    endpoint: 127.0.0.1:${scrapePort}
  prometheusremotewrite:
    endpoint: ${prom.remoteWriteUrl}
    retry_on_failure: { initial_interval: 200ms, max_interval: 1s }
service:
  telemetry: { metrics: { address: 127.0.0.1:${adminPort} } }
  pipelines:
    metrics: { receivers: [otlp], exporters: [prometheus, prometheusremotewrite] }
`;
    writeFileSync(join(dir, 'pipeline.config.yaml'), config);
    sonde = startSonde(['run', '--config', join(dir, 'pipeline.config.yaml')]);
    await waitForOk(`http://127.0.0.1:${adminPort}/readyz`, sonde);
  });

  afterAll(async () => {
    await sonde?.stop();
    await prom?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers delta OTLP metrics as cumulative series through both paths', async () => {
    const start = BigInt(Date.now()) * 1_000_000n;
    const counts = [4, 1, 7, 3];
    for (let i = 0; i < counts.length; i++) {
      const t = start + BigInt(i + 1) * 100_000_000n;
      const res = await fetch(`http://127.0.0.1:${otlpPort}/v1/metrics`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(otlpJson(t, t - 100_000_000n, counts[i]!, 5432)),
      });
      expect(res.status).toBe(200);
    }
    const sel = 'job="sonde-run-e2e",server_port="5432"';
    expect(await prom.waitFor(`sonde_tcp_connections_total{${sel}}`, (v) => v === 15)).toBe(15);
    expect(await prom.value(`sonde_tcp_connect_duration_seconds_bucket{${sel},le="+Inf"}`)).toBe(15);
    expect(await prom.value(`sonde_tcp_connect_duration_seconds_bucket{${sel},le="0.001"}`)).toBe(15);
    expect(await prom.value(`sonde_tcp_connect_duration_seconds_bucket{${sel},le="0.0001"}`)).toBe(0);
    expect(await prom.value(`sonde_tcp_connect_duration_seconds_count{${sel}}`)).toBe(15);
    const scraped = 'job="sonde-scrape",exported_job="sonde-run-e2e",server_port="5432"';
    expect(await prom.waitFor(`sonde_tcp_connections_total{${scraped}}`, (v) => v === 15)).toBe(15);
    expect(await prom.value(`target_info{job="sonde-run-e2e"}`)).toBe(1);
    // Prometheus stores a remote write before Sonde has read its answer and counted it: poll
    // (bounded) until the last request is counted, then check the counts exactly.
    const self = await pollValue(
      async () => (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text(),
      (m) => promValue(m, 'sonde_exporter_sent_items_total', { exporter: 'prometheusremotewrite' }) >= 8,
      20_000,
    );
    expect(promValue(self, 'sonde_exporter_sent_items_total', { exporter: 'prometheusremotewrite' })).toBe(8);
    expect(promValue(self, 'sonde_exporter_sent_items_total', { exporter: 'prometheus' })).toBe(8);
    const failed = promValue(self, 'sonde_exporter_send_failed_items_total', { exporter: 'prometheusremotewrite' });
    expect(Number.isNaN(failed) ? 0 : failed).toBe(0);
  }, 120_000);
});
