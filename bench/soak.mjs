#!/usr/bin/env node
// Soak run: `npm run bench:soak` (not in CI). Runs a real `sonde run` at a steady load for
// SONDE_SOAK_MINUTES (default 15, of which SONDE_SOAK_WARMUP_S = 180 s warm-up) and samples its
// resident memory and V8 heap, to show that memory does not grow at steady load. Everything is on 127.0.0.1: the load generator and the OTLP/HTTP sink
// live in this process.
//
// Pipeline: otlp receiver -> memory_limiter -> batch -> otlphttp exporter -> sink.
// Load: SONDE_SOAK_RPS requests per second (default 100) of SONDE_SOAK_SPANS spans (default 50).
// With SONDE_SOAK_STORAGE=1 the exporter uses a persistent queue (sending_queue.storage_dir).
//
// Output: one JSON line with RSS at start (after the warm-up) and at the end (per-minute minima:
// RSS is a GC sawtooth), the least-squares slope of those minima and of all samples, and the
// delivery counts; also written to SONDE_SOAK_OUT (default bench/.cache/soak-result.json).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const minutes = Number(process.env.SONDE_SOAK_MINUTES ?? 15);
const warmupS = Number(process.env.SONDE_SOAK_WARMUP_S ?? 180);
const rps = Number(process.env.SONDE_SOAK_RPS ?? 100);
const spansPerRequest = Number(process.env.SONDE_SOAK_SPANS ?? 50);
const sampleEveryMs = 5000;
const out = process.env.SONDE_SOAK_OUT ?? join(root, 'bench/.cache/soak-result.json');
const useStorage = process.env.SONDE_SOAK_STORAGE === '1';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function rssBytes(pid) {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

function promValue(text, name, labels = {}) {
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const set = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => set[k] === v)) total += Number(m[3]);
  }
  return total;
}

function request(seq) {
  const spans = [];
  for (let i = 0; i < spansPerRequest; i++) {
    const n = seq * spansPerRequest + i;
    spans.push({
      traceId: (seq + 1).toString(16).padStart(32, '0'),
      spanId: (n + 1).toString(16).padStart(16, '0'),
      name: 'GET /soak/{id}',
      kind: 2,
      startTimeUnixNano: String(1_700_000_000_000_000_000n + BigInt(n)),
      endTimeUnixNano: String(1_700_000_000_001_000_000n + BigInt(n)),
      attributes: [
        { key: 'http.request.method', value: { stringValue: 'GET' } },
        { key: 'http.route', value: { stringValue: '/soak/{id}' } },
        { key: 'url.path', value: { stringValue: `/soak/${n}` } },
        { key: 'http.response.status_code', value: { intValue: '200' } },
      ],
      status: {},
    });
  }
  return JSON.stringify({
    resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'soak' } }] }, scopeSpans: [{ scope: { name: 'soak' }, spans }] }],
  });
}

function slopePerHour(samples) {
  const n = samples.length;
  if (n < 2) return 0;
  const mx = samples.reduce((a, s) => a + s.t, 0) / n;
  const my = samples.reduce((a, s) => a + s.rss, 0) / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.t - mx) * (s.rss - my);
    den += (s.t - mx) ** 2;
  }
  return (num / den) * 3600; // bytes per hour (t in seconds)
}

const mib = (b) => Math.round((b / 1048576) * 10) / 10;

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'sonde-soak-'));
  let sinkRequests = 0;
  const sink = createServer((req, res) => {
    let size = 0;
    req.on('data', (c) => (size += c.length));
    req.on('end', () => {
      // Items are counted by Sonde's own counters; the sink counts requests that carried a body.
      if (size > 0) sinkRequests++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 });
      res.end();
    });
  });
  await new Promise((r) => sink.listen(0, '127.0.0.1', r));
  const sinkPort = sink.address().port;
  const [otlpPort, adminPort, grpcPort] = [await freePort(), await freePort(), await freePort()];
  const storage = useStorage ? `\n      storage_dir: ${join(work, 'queue')}` : '';
  const config = `
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${grpcPort} }
      http: { endpoint: 127.0.0.1:${otlpPort} }
processors:
  memory_limiter: { check_interval: 1s, limit_mib: 1024, spike_limit_mib: 256 }
  batch: { send_batch_size: 2000, timeout: 200ms }
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:${sinkPort}
    sending_queue:
      queue_size: 1000${storage}
service:
  telemetry: { logs: { level: warn }, metrics: { address: 127.0.0.1:${adminPort} } }
  pipelines:
    traces: { receivers: [otlp], processors: [memory_limiter, batch], exporters: [otlphttp] }
`;
  const configFile = join(work, 'soak.yaml');
  writeFileSync(configFile, config);
  const child = spawn(process.execPath, [join(root, 'bin/sonde'), 'run', '--config', configFile], { stdio: ['ignore', 'inherit', 'inherit'] });
  const metrics = async () => (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${adminPort}/readyz`)).status === 200) break;
    } catch {}
    if (i > 200) throw new Error('sonde did not become ready');
    await new Promise((r) => setTimeout(r, 100));
  }

  const t0 = Date.now();
  const endAt = t0 + minutes * 60_000;
  const samples = [];
  let sent = 0;
  let failed = 0;
  const sampler = setInterval(() => {
    const t = (Date.now() - t0) / 1000;
    const sample = { t, rss: rssBytes(child.pid), heap: NaN };
    samples.push(sample);
    metrics()
      .then((text) => (sample.heap = promValue(text, 'sonde_nodejs_heap_size_used_bytes')))
      .catch(() => undefined);
  }, sampleEveryMs);
  // Open-loop load at a fixed rate, bounded by the run's duration; in-flight requests capped.
  let inflight = 0;
  let seq = 0;
  const url = `http://127.0.0.1:${otlpPort}/v1/traces`;
  while (Date.now() < endAt) {
    const due = Math.floor(((Date.now() - t0) / 1000) * rps);
    while (seq < due && inflight < 64) {
      inflight++;
      const body = request(seq++);
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
        .then((r) => {
          if (r.status === 200) sent += spansPerRequest;
          else failed += spansPerRequest;
          return r.arrayBuffer();
        })
        .catch(() => (failed += spansPerRequest))
        .finally(() => inflight--);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  clearInterval(sampler);
  while (inflight > 0) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 2000));
  const text = await metrics();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  sink.close();
  rmSync(work, { recursive: true, force: true });

  const steady = samples.filter((s) => s.t >= warmupS);
  // RSS is a sawtooth (garbage builds up, then a GC returns it), so "start" and "end" are the
  // per-minute minima (what stays after collection) of the first and last steady minutes, and the
  // growth figure is the least-squares slope of those minima.
  const perMinuteMin = (key) => {
    const out = [];
    for (const s of steady) {
      if (!Number.isFinite(s[key])) continue;
      const m = Math.floor((s.t - warmupS) / 60);
      if (!out[m] || s[key] < out[m].rss) out[m] = { t: s.t, rss: s[key] };
    }
    return out.filter(Boolean);
  };
  const minima = perMinuteMin('rss');
  const heapMinima = perMinuteMin('heap');
  const result = {
    measuredAt: new Date(t0).toISOString(),
    minutes,
    warmupS,
    load: { requestsPerSecond: rps, spansPerRequest, spansPerSecond: rps * spansPerRequest },
    persistentQueue: useStorage,
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, loadavgAtEnd: loadavg()[0] },
    rssMiB: {
      atStart: mib(minima[0]?.rss ?? NaN),
      atEnd: mib(minima[minima.length - 1]?.rss ?? NaN),
      perMinuteMinima: minima.map((m) => mib(m.rss)),
      slopeOfMinimaMiBPerHour: mib(slopePerHour(minima)),
      min: mib(Math.min(...steady.map((s) => s.rss))),
      max: mib(Math.max(...steady.map((s) => s.rss))),
      slopeAllSamplesMiBPerHour: mib(slopePerHour(steady)),
    },
    heapUsedMiB: {
      atStart: mib(heapMinima[0]?.rss ?? NaN),
      atEnd: mib(heapMinima[heapMinima.length - 1]?.rss ?? NaN),
      perMinuteMinima: heapMinima.map((m) => mib(m.rss)),
      slopeOfMinimaMiBPerHour: mib(slopePerHour(heapMinima)),
    },
    samples: samples.length,
    spans: {
      offered: seq * spansPerRequest,
      acceptedByClient: sent,
      refusedOrFailed: failed,
      receiverAccepted: promValue(text, 'sonde_receiver_accepted_items_total', { receiver: 'otlp' }),
      exporterSent: promValue(text, 'sonde_exporter_sent_items_total', { exporter: 'otlphttp' }),
      exporterFailed: promValue(text, 'sonde_exporter_send_failed_items_total', { exporter: 'otlphttp' }),
      sinkRequests,
    },
    rssSeries: samples.map((s) => [Math.round(s.t), mib(s.rss), mib(s.heap)]),
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2));
  const { rssSeries, ...summary } = result;
  console.log(JSON.stringify(summary));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
