// Sonde never captures its own HTTP traffic (bpf/http.bpf.c `self_tgid`), on the real kernel.
// `sonde run` exports over OTLP/HTTP (otlphttp) to a sink in this test process whose port the
// ebpf receiver is scoped to, so the exporter's requests cross a captured port: the sink's end of
// them (this process, not Sonde) comes out as SERVER spans, Sonde's end must not come out at all.
// curl requests to the same sink are the control for the CLIENT side: they are captured, exactly.
// (The sink's SERVER spans are themselves exported to the sink, which makes more of them: a
// steady trickle, one request per hand-over, that stops with Sonde.)
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { pollValue } from '../helpers/poll.js';
import { promValue } from '../helpers/sonde-process.js';
import { requireBpf } from './bpf-available.js';
import { curl, type CurlResult } from './http-servers.js';
import { attrs, type OtlpKv } from './otlp-json-points.js';
import { startEbpfRun, type EbpfRun } from './sonde-run.js';

interface OtlpLine {
  resourceSpans?: { resource: { attributes: OtlpKv[] }; scopeSpans: { spans: { kind: number; attributes: OtlpKv[] }[] }[] }[];
  resourceMetrics?: { resource: { attributes: OtlpKv[] }; scopeMetrics: { metrics: { name: string; histogram?: { dataPoints: { count: string | number }[] } }[] }[] }[];
}
/** Complete lines of the file exporter's output (the last one may be mid-write while Sonde runs). */
function readLines(path: string): OtlpLine[] {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const out: OtlpLine[] = [];
  for (const l of text.split('\n')) {
    try {
      if (l.trim()) out.push(JSON.parse(l) as OtlpLine);
    } catch {
      // a line still being written
    }
  }
  return out;
}

const spansOf = (lines: OtlpLine[]) =>
  lines.flatMap((l) => (l.resourceSpans ?? []).flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => ({ res: attrs(rs.resource.attributes), kind: s.kind, a: attrs(s.attributes) })))));

const PROBES = 2;

describe('sonde run does not capture its own HTTP traffic (real kernel)', () => {
  const bpf = requireBpf();
  let run: EbpfRun | undefined;
  let sink: Server | undefined;
  let sinkPort = 0;
  const received: { url: string; userAgent: string; peerPort: number }[] = [];
  let probes: CurlResult[] = [];
  let lines: OtlpLine[] = [];
  let metricsText = '';

  beforeAll(async () => {
    if (!bpf.ok) return;
    sinkPort = await freePort();
    sink = createServer((req, res) => {
      received.push({ url: req.url ?? '', userAgent: String(req.headers['user-agent'] ?? ''), peerPort: req.socket.remotePort ?? 0 });
      req.resume();
      req.on('end', () => {
        // an empty export response (no partial success), valid in protobuf
        res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': '0' });
        res.end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      sink!.once('error', reject);
      sink!.listen(sinkPort, '127.0.0.1', resolve);
    });
    const admin = await freePort();
    run = await startEbpfRun({
      tmpPrefix: 'sonde-http-self-',
      admin,
      ebpf: { collection_interval: '500ms', tcp: { enabled: false }, include: { ports: [sinkPort] } },
      signals: ['traces', 'metrics'],
      exporters: { otlphttp: { endpoint: `http://127.0.0.1:${sinkPort}`, retry_on_failure: { enabled: false } } },
    });
    const out = run.outPath;
    probes = await curl([], Array.from({ length: PROBES }, () => `http://127.0.0.1:${sinkPort}/probe`));
    // Bounded wait until Sonde's exports have gone through the captured port and the sink's end
    // of them is in the file: a few traces and metrics exports, and SERVER spans of them.
    lines = await pollValue(
      () => readLines(out),
      (ls) => {
        const fromSonde = received.filter((r) => r.userAgent === 'sonde');
        return (
          fromSonde.filter((r) => r.url === '/v1/traces').length >= 3 &&
          fromSonde.some((r) => r.url === '/v1/metrics') &&
          spansOf(ls).some((s) => s.kind === 2 && s.a['url.path'] === '/v1/traces')
        );
      },
      30_000,
      200,
    );
    metricsText = await run.metrics();
    const { code } = await run.sonde.stop('SIGTERM');
    expect(code).toBe(0);
    lines = readLines(out);
  }, 90_000);

  afterAll(async () => {
    await run?.dispose();
    sink?.closeAllConnections();
    await new Promise<void>((resolve) => (sink ? sink.close(() => resolve()) : resolve()));
  });

  it.runIf(bpf.ok)("the exporter's requests crossed the captured port: the sink's end of them is in the output", () => {
    expect(probes.map((p) => p.code)).toEqual(Array(PROBES).fill(200));
    const sondePorts = new Set(received.filter((r) => r.userAgent === 'sonde').map((r) => r.peerPort));
    const exportSpans = spansOf(lines).filter((s) => s.kind === 2 && String(s.a['url.path']).startsWith('/v1/'));
    expect(exportSpans.length).toBeGreaterThanOrEqual(1);
    // at most one span per request the sink received from Sonde, each from the sink (this
    // process), with Sonde's end of the connection as its peer
    expect(exportSpans.length).toBeLessThanOrEqual(received.filter((r) => r.userAgent === 'sonde').length);
    for (const s of exportSpans) {
      expect(Number(s.res['process.pid'])).toBe(process.pid);
      expect(sondePorts.has(Number(s.a['network.peer.port']))).toBe(true);
    }
  });

  it.runIf(bpf.ok)("Sonde's own end produces no span and no histogram point", () => {
    const sondePid = run!.sonde.child.pid!;
    const spans = spansOf(lines);
    expect(spans.filter((s) => Number(s.res['process.pid']) === sondePid)).toEqual([]);
    // the only CLIENT spans are curl's probes: none for /v1/traces or /v1/metrics
    const clients = spans.filter((s) => s.kind === 3);
    expect(clients.map((s) => [s.res['process.executable.name'], Number(s.res['process.pid']), s.a['url.path']])).toEqual(
      Array(PROBES).fill(['curl', probes[0]!.pid, '/probe']),
    );
    expect(spans.filter((s) => s.kind === 2 && s.a['url.path'] === '/probe')).toHaveLength(PROBES);
    const resources = lines.flatMap((l) => (l.resourceMetrics ?? []).map((rm) => attrs(rm.resource.attributes)));
    expect(resources.length).toBeGreaterThan(0);
    expect(resources.filter((r) => Number(r['process.pid']) === sondePid)).toEqual([]);
    // the client histogram holds curl's probes only
    let clientCount = 0;
    for (const l of lines)
      for (const rm of l.resourceMetrics ?? [])
        for (const sm of rm.scopeMetrics)
          for (const m of sm.metrics)
            if (m.name === 'http.client.request.duration') {
              expect(Number(attrs(rm.resource.attributes)['process.pid'])).toBe(probes[0]!.pid);
              clientCount = Math.max(clientCount, ...m.histogram!.dataPoints.map((dp) => Number(dp.count)));
            }
    expect(clientCount).toBe(PROBES);
    expect(promValue(metricsText, 'sonde_ebpf_http_requests_total', { side: 'client' })).toBe(PROBES);
    for (const program of ['http', 'http_unpaired', 'http_decoder']) expect(promValue(metricsText, 'sonde_ebpf_events_lost_total', { program }), program).toBe(0);
  });
});
