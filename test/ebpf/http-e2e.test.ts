// `sonde run` end to end: the ebpf receiver's HTTP capture through the file exporter (OTLP/JSON
// lines). The whole file is searched for the query-string secret. The receiver is scoped to the
// test server's port (in the kernel), as a user scopes Sonde on a shared host, so other HTTP
// traffic on a busy machine cannot crowd out the exact counts.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { promValue, startSonde, waitForOk, type SondeProcess } from '../helpers/sonde-process.js';
import { requireBpf } from './bpf-available.js';
import { curl, startNodeServer, type RunningServer } from './http-servers.js';
import { pollValue } from '../helpers/poll.js';

interface OtlpKv {
  key: string;
  value: Record<string, unknown>;
}
const attrs = (kvs: OtlpKv[] = []) => Object.fromEntries(kvs.map((a) => [a.key, Object.values(a.value)[0]]));

describe('sonde run with HTTP capture and the file exporter (real kernel)', () => {
  const bpf = requireBpf();
  let dir = '';
  let sonde: SondeProcess | undefined;
  let server: RunningServer | undefined;
  let fileText = '';
  let metricsText = '';

  beforeAll(async () => {
    if (!bpf.ok) return;
    dir = mkdtempSync(join(tmpdir(), 'sonde-http-e2e-'));
    const admin = await freePort();
    server = await startNodeServer();
    writeFileSync(
      join(dir, 'config.yaml'),
      `receivers:
  ebpf:
    collection_interval: 500ms
    tcp: { enabled: false }
    include: { ports: [${server.port}] }
exporters:
  file: { path: ${join(dir, 'out.jsonl')} }
service:
  telemetry: { metrics: { address: 127.0.0.1:${admin} } }
  pipelines:
    traces: { receivers: [ebpf], exporters: [file] }
    metrics: { receivers: [ebpf], exporters: [file] }
`,
    );
    sonde = startSonde(['run', '--config', join(dir, 'config.yaml')]);
    await waitForOk(`http://127.0.0.1:${admin}/readyz`, sonde, 30_000);
    await curl([], [1, 2, 3].map(() => `http://127.0.0.1:${server!.port}/users/123?token=secret`));
    // The ring is read and the counters flushed on timers (later on a loaded box): poll /metrics,
    // bounded, until the 3 exchanges (seen from curl's side and the server's) are counted.
    metricsText = await pollValue(
      async () => (await fetch(`http://127.0.0.1:${admin}/metrics`)).text(),
      (m) => promValue(m, 'sonde_ebpf_events_total', { program: 'http' }) >= 6 && promValue(m, 'sonde_ebpf_http_requests_total', { side: 'server' }) >= 3,
      20_000,
      200,
    );
    const { code } = await sonde.stop('SIGTERM');
    expect(code).toBe(0);
    fileText = readFileSync(join(dir, 'out.jsonl'), 'utf8');
  }, 90_000);

  afterAll(async () => {
    if (sonde && sonde.child.exitCode === null) await sonde.stop('SIGKILL');
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
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

  it.runIf(bpf.ok)('counts the records in its own /metrics', () => {
    expect(promValue(metricsText, 'sonde_ebpf_events_total', { program: 'http' })).toBeGreaterThanOrEqual(6);
    expect(promValue(metricsText, 'sonde_ebpf_http_requests_total', { side: 'server' })).toBeGreaterThanOrEqual(3);
    // every loss counter is exported from the start, and nothing was lost in this scoped run
    for (const program of ['http', 'http_unpaired', 'http_decoder']) expect(promValue(metricsText, 'sonde_ebpf_events_lost_total', { program }), program).toBe(0);
    // Kernel-skipped runs depend on other BPF programs on the host (other tests): exported, not necessarily 0.
    expect(promValue(metricsText, 'sonde_ebpf_events_lost_total', { program: 'http_missed' })).toBeGreaterThanOrEqual(0);
    expect(metricsText).not.toContain('secret');
  });
});
