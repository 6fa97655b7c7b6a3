import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { prometheusExporterFactory } from '../../src/exporters/prometheus/factory.js';
import { PrometheusExporter } from '../../src/exporters/prometheus/prometheus-exporter.js';
import { SeriesStore } from '../../src/exporters/prometheus/series-store.js';
import { wantsOpenMetrics } from '../../src/exporters/prometheus/exposition.js';
import { DeltaToCumulative, translateMetrics } from '../../src/exporters/prometheus-naming/index.js';
import { tcpBatch } from './support/tcp-metrics.js';
import { counterValue, testSettings } from './support/settings.js';
import { freePort } from '../helpers/free-port.js';
import { pollValue } from '../helpers/poll.js';
import { promValue } from '../helpers/sonde-process.js';

const T0 = BigInt(Date.now()) * 1_000_000n;
const S = 1_000_000_000n;
let exporter: PrometheusExporter | undefined;

afterEach(async () => {
  await exporter?.shutdown();
  exporter = undefined;
});

function create(extra: Record<string, unknown> = {}) {
  const t = testSettings('prometheus');
  const config = { ...prometheusExporterFactory.createDefaultConfig(), endpoint: '127.0.0.1:0', ...extra };
  exporter = prometheusExporterFactory.create(t.settings, config) as PrometheusExporter;
  return { exporter, ...t };
}

describe('prometheus exporter (scrape endpoint)', () => {
  it('serves the text format with cumulative totals from delta input', async () => {
    const { exporter, telemetry } = create();
    await exporter.start();
    await exporter.consume(tcpBatch({ timeUnixNano: T0 + S, startTimeUnixNano: T0, serverPort: 8080, connects: 3, durations: [0.0002, 0.002, 2], temporality: 'delta' }));
    await exporter.consume(tcpBatch({ timeUnixNano: T0 + 2n * S, startTimeUnixNano: T0 + S, serverPort: 8080, connects: 4, durations: [0.0003], temporality: 'delta' }));
    const res = await fetch(exporter.url());
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    const labels =
      'instance="test-host:4242",job="sonde-prom-test",network_tcp_direction="outbound",network_type="ipv4",process_executable_name="node",server_address="127.0.0.1",server_port="8080",sonde_tcp_outcome="success"';
    expect(text).toContain('# TYPE sonde_tcp_connections_total counter\n');
    expect(text).toContain(`sonde_tcp_connections_total{${labels}} 7\n`);
    expect(text).toContain('# TYPE sonde_tcp_connect_duration_seconds histogram\n');
    expect(text).toContain(`sonde_tcp_connect_duration_seconds_bucket{${labels},le="0.0005"} 2\n`);
    expect(text).toContain(`sonde_tcp_connect_duration_seconds_bucket{${labels},le="+Inf"} 4\n`);
    expect(text).toContain(`sonde_tcp_connect_duration_seconds_count{${labels}} 4\n`);
    const sum = /sonde_tcp_connect_duration_seconds_sum\{[^}]*\} (\S+)\n/.exec(text);
    expect(Number(sum?.[1])).toBeCloseTo(2.0025, 9);
    expect(text).toContain('target_info{host_name="test-host",instance="test-host:4242",job="sonde-prom-test",process_executable_name="node",process_pid="4242"} 1\n');
    expect(await counterValue(telemetry, 'sonde_exporter_sent_items_total', 'prometheus')).toBe(4);
  });

  it('passes `promtool check metrics` (lint of the text format)', async () => {
    const promtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' });
    if (promtool.status !== 0) {
      if (process.env['CI'] === 'true') throw new Error('promtool is missing: run scripts/setup-test-env.sh (Debian package `prometheus`)');
      return;
    }
    const { exporter } = create();
    await exporter.start();
    await exporter.consume(tcpBatch({ timeUnixNano: T0 + S, startTimeUnixNano: T0, serverPort: 1, connects: 3, durations: [0.001, 0.2], temporality: 'delta' }));
    const text = await (await fetch(exporter.url())).text();
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('serves OpenMetrics when the Accept header asks for it', async () => {
    const { exporter } = create();
    await exporter.start();
    await exporter.consume(tcpBatch({ timeUnixNano: T0 + S, startTimeUnixNano: T0, serverPort: 1, connects: 2, durations: [0.01], temporality: 'cumulative' }));
    const res = await fetch(exporter.url(), { headers: { Accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' } });
    expect(res.headers.get('content-type')).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    const text = await res.text();
    expect(text).toContain('# TYPE sonde_tcp_connections counter\n');
    expect(text).toMatch(/\nsonde_tcp_connections_total\{[^}]*\} 2\n/);
    expect(text).toContain('# UNIT sonde_tcp_connect_duration_seconds seconds\n');
    expect(text).toContain('# TYPE target info\n');
    expect(text.endsWith('# EOF\n')).toBe(true);
  });

  it('negotiates on Accept', () => {
    expect(wantsOpenMetrics(undefined)).toBe(false);
    expect(wantsOpenMetrics('text/plain')).toBe(false);
    expect(wantsOpenMetrics('application/openmetrics-text;version=1.0.0;q=0')).toBe(false);
    expect(wantsOpenMetrics('application/openmetrics-text; version=0.0.1; q=0.75, text/plain')).toBe(true);
  });

  it('escapes label values and returns 404 off-path', async () => {
    const { exporter } = create();
    await exporter.start();
    const batch = tcpBatch({ timeUnixNano: T0 + S, startTimeUnixNano: T0, serverPort: 1, connects: 1, durations: [], temporality: 'cumulative' });
    batch.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!.dataPoints[0]!.attributes['weird'] = 'a"b\\c\nd';
    await exporter.consume(batch);
    const text = await (await fetch(exporter.url())).text();
    expect(text).toContain('weird="a\\"b\\\\c\\nd"');
    expect((await fetch(exporter.url().replace('/metrics', '/other'))).status).toBe(404);
  });

  it('fails to start with SONDE_PROMETHEUS_LISTEN_FAILED when the port is taken', async () => {
    const first = create();
    await first.exporter.start();
    const port = first.exporter.address()!.port;
    const t = testSettings('prometheus/second');
    const second = prometheusExporterFactory.create(t.settings, { ...prometheusExporterFactory.createDefaultConfig(), endpoint: `127.0.0.1:${port}` });
    await expect(second.start()).rejects.toMatchObject({ code: 'SONDE_PROMETHEUS_LISTEN_FAILED' });
    await second.shutdown();
  });

  it('shutdown is idempotent and safe before start', async () => {
    const { exporter } = create();
    await exporter.shutdown();
    await exporter.shutdown();
    await exporter.start();
    expect(exporter.address()).toBeUndefined();
  });
});

describe('SeriesStore expiry', () => {
  it('drops series not updated within metric_expiration', () => {
    let now = 0;
    const store = new SeriesStore(5 * 60_000, () => now);
    const tr = (port: number) =>
      translateMetrics(tcpBatch({ timeUnixNano: T0 + S, startTimeUnixNano: T0, serverPort: port, connects: 1, durations: [], temporality: 'cumulative' }), {
        namespace: '',
        resourceCopy: { enabled: false, attributes: [] },
        cumulative: new DeltaToCumulative({ maxStaleMs: 0 }),
        targetInfo: false,
      }).families;
    store.upsert(tr(1));
    now = 4 * 60_000;
    store.upsert(tr(2));
    expect(store.seriesCount).toBe(4);
    now = 6 * 60_000;
    const snap = store.snapshot();
    expect(store.seriesCount).toBe(2);
    const ports = snap.flatMap((f) => [...f.series.values()].map((s) => s.labels.find((l) => l.name === 'server_port')!.value));
    expect(new Set(ports)).toEqual(new Set(['2']));
    now = 10 * 60_000;
    expect(store.snapshot()).toEqual([]);
  });
});

describe('stale series expiry through the scrape endpoint', () => {
  it('a series not updated for metric_expiration leaves the scrape while a refreshed one stays; a returning delta series starts a new total', async () => {
    const port = await freePort();
    const { exporter } = create({ endpoint: `127.0.0.1:${port}`, metric_expiration: '1s' });
    await exporter.start();
    const url = `http://127.0.0.1:${port}/metrics`;
    const scrapeText = async (): Promise<string> => (await fetch(url)).text();
    const connections = (text: string, serverPort: number): number => promValue(text, 'sonde_tcp_connections_total', { server_port: String(serverPort) });
    const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;
    let lastDeltaNs = nowNs() - S;
    // Port 1: a delta series sent now and then; port 2: a cumulative series refreshed on every poll.
    const stale = (connects: number) => {
      const t = nowNs();
      const b = tcpBatch({ timeUnixNano: t, startTimeUnixNano: lastDeltaNs, serverPort: 1, connects, durations: [0.001], temporality: 'delta' });
      lastDeltaNs = t;
      return b;
    };
    let refreshed = 0;
    const refresh = () => tcpBatch({ timeUnixNano: nowNs(), startTimeUnixNano: T0, serverPort: 2, connects: ++refreshed, durations: [], temporality: 'cumulative' });

    // Both present in one scrape (sent again until a scrape comes within the expiry: a stalled machine cannot fail this).
    let sentStale = 0;
    let staleSentAt = 0;
    const both = await pollValue(
      async () => {
        staleSentAt = Date.now(); // no later than the store's own clock reading for it
        await exporter.consume(stale(3));
        sentStale += 3;
        await exporter.consume(refresh());
        return scrapeText();
      },
      (text) => connections(text, 1) === sentStale && connections(text, 2) === refreshed,
      10_000,
      50,
    );
    expect(connections(both, 1)).toBe(sentStale);
    expect(connections(both, 2)).toBe(refreshed);

    // Only port 2 is refreshed from now on: port 1 must leave a later scrape, port 2 must stay.
    const later = await pollValue(
      async () => {
        await exporter.consume(refresh());
        return scrapeText();
      },
      (text) => Number.isNaN(connections(text, 1)),
      15_000,
      100,
    );
    expect(connections(later, 1)).toBeNaN();
    expect(later).not.toContain('server_port="1"'); // its histogram series too
    expect(Date.now() - staleSentAt).toBeGreaterThanOrEqual(1000); // not before the expiry
    expect(connections(later, 2)).toBe(refreshed);
    expect(promValue(later, 'sonde_tcp_connect_duration_seconds_count', { server_port: '2' })).toBe(0);
    expect(later).toContain('target_info{'); // the resource is still served through port 2

    // Port 1 comes back with a delta of 2: its old total was forgotten with the series.
    await exporter.consume(stale(2));
    const back = await scrapeText();
    expect(connections(back, 1)).toBe(2);
    expect(promValue(back, 'sonde_tcp_connect_duration_seconds_count', { server_port: '1' })).toBe(1);
  });
});
