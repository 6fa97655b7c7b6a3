// bench:export — spans/s and metric points/s through OTLP receiver -> batch -> OTLP exporter, per
// core, with memory; side by side with the OpenTelemetry Collector running the same pipeline.
//
// A Go load generator (otlpbench load) sends one pre-encoded OTLP/gRPC request over and over from
// several concurrent callers; the system under test batches and exports it (gzip, the default of
// both) to a Go sink (otlpbench sink) that decodes and counts every span and point. Per core =
// items the sink received / CPU seconds the system used (utime+stime of all its threads, from
// /proc/<pid>/stat) between the start of the load and the moment everything arrived.
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { repoRoot } from '../lib/paths.js';
import { buildOtlpbench, startSink, type Sink } from '../lib/otlp-sink.js';
import { cpuSeconds, rssBytes, runJsonLines } from '../lib/proc.js';
import { describe, num, si, summarize } from '../lib/stats.js';
import { markdownTable, textTable } from '../lib/table.js';
import { describeMachine, machine } from '../lib/machine.js';
import { writeSection } from '../lib/docs.js';
import { freePort, runSonde, sleep, startBackground } from '../lib/services.js';
import { sondeBenchConfig } from '../lib/sonde-config.js';

const DURATION_S = Number(process.env.SONDE_BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.SONDE_BENCH_ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.SONDE_BENCH_CONCURRENCY ?? 8);
const ITEMS = 500; // spans or points per request (an SDK batch is 512)
const SIGNALS = ['traces', 'metrics'] as const;
type Signal = (typeof SIGNALS)[number];
type System = 'sonde' | 'collector';

/** The cached Collector build, or why there is none. */
function buildCollector(): { bin?: string; why?: string } {
  const r = spawnSync('bash', [join(repoRoot(), 'bench/export/build-collector.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30 * 60_000 });
  if (r.status === 0) return { bin: r.stdout.trim().split('\n').pop()! };
  return { why: (r.stderr || String(r.error ?? '')).trim().split('\n').slice(-3).join(' ') };
}

interface Target { pid: number; endpoint: string; stop(): Promise<void> }

async function startSondeTarget(sinkAddr: string): Promise<Target> {
  const port = await freePort();
  const admin = `127.0.0.1:${await freePort()}`;
  const s = await runSonde(sondeBenchConfig({ target: { kind: 'sonde', admin }, otlpPort: port, sinkAddr }), admin);
  return { pid: s.pid, endpoint: `127.0.0.1:${port}`, stop: () => s.stop() };
}

async function startCollectorTarget(bin: string, sinkAddr: string): Promise<Target> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sonde-bench-otelcol-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, sondeBenchConfig({ target: { kind: 'collector' }, otlpPort: port, sinkAddr }));
  const bg = await startBackground(bin, ['--config', file], { immediately: true }).catch(async (e) => {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  });
  // The Collector logs nothing at warn level when all is well: wait until its port accepts.
  for (let i = 0; !(await portOpen(port)); i++) {
    if (i >= 300 || bg.child.exitCode !== null) {
      await bg.stop();
      throw new Error(`the Collector did not listen on ${port}: ${bg.stderr().slice(-2000)}`);
    }
    await sleep(100);
  }
  return { pid: bg.pid, endpoint: `127.0.0.1:${port}`, async stop() { await bg.stop(); rmSync(dir, { recursive: true, force: true }); } };
}

async function portOpen(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

interface Measure { perCore: number; wall: number; rssPeak: number; delivered: number; sent: number; genCores: number; failed: number }

async function measure(target: Target, sink: Sink, otlpbench: string, signal: Signal): Promise<Measure> {
  const key = signal === 'traces' ? 'spans' : 'points';
  const before = (await sink.count())[key];
  const cpu0 = cpuSeconds(target.pid);
  const t0 = performance.now();
  let rssPeak = rssBytes(target.pid);
  const sampler = setInterval(() => { try { rssPeak = Math.max(rssPeak, rssBytes(target.pid)); } catch { /* exited */ } }, 200);
  const [load] = await runJsonLines(otlpbench, ['load', '-target', target.endpoint, '-signal', signal, '-items', String(ITEMS),
    '-concurrency', String(CONCURRENCY), '-duration', `${DURATION_S}s`, '-max-requests', '200000'], { timeoutMs: (DURATION_S + 60) * 1000 });
  const sent = load!.items_ok!;
  // Wait until everything accepted reached the sink (bounded; batch timeout is 200 ms).
  let delivered = 0;
  let t1 = performance.now();
  for (let i = 0; i < 150; i++) {
    delivered = (await sink.count())[key] - before;
    t1 = performance.now();
    if (delivered >= sent) break;
    await sleep(100);
  }
  clearInterval(sampler);
  const cpu = cpuSeconds(target.pid) - cpu0;
  return {
    perCore: delivered / cpu, wall: delivered / ((t1 - t0) / 1000), rssPeak, delivered, sent,
    genCores: load!.cpu_s! / load!.elapsed_s!, failed: load!.requests_failed!,
  };
}

async function main(): Promise<void> {
  const m = machine();
  const otlpbench = buildOtlpbench();
  const collector = buildCollector();
  const systems: System[] = collector.bin ? ['sonde', 'collector'] : ['sonde'];
  const sink = await startSink(otlpbench);
  const results: Record<System, Record<Signal, Measure[]>> = { sonde: { traces: [], metrics: [] }, collector: { traces: [], metrics: [] } };
  const ratio: Record<Signal, number[]> = { traces: [], metrics: [] };
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? systems : [...systems].reverse();
      for (const sys of order) {
        const target = sys === 'sonde' ? await startSondeTarget(sink.grpc) : await startCollectorTarget(collector.bin!, sink.grpc);
        try {
          await sleep(500);
          for (const signal of SIGNALS) {
            const res = await measure(target, sink, otlpbench, signal);
            results[sys][signal].push(res);
            process.stderr.write(`round ${r + 1}/${ROUNDS} ${sys} ${signal}: ${si(res.perCore)}/s per core, ${si(res.wall)}/s wall, ` +
              `rss ${(res.rssPeak / 2 ** 20).toFixed(0)} MiB, delivered ${res.delivered}/${res.sent}, generator ${res.genCores.toFixed(2)} cores\n`);
          }
        } finally {
          await target.stop();
        }
      }
      if (collector.bin) for (const s of SIGNALS) ratio[s].push(results.sonde[s][r]!.perCore / results.collector[s][r]!.perCore);
    }
  } finally {
    await sink.stop();
  }
  const sum = (sys: System, s: Signal, f: (x: Measure) => number) => summarize(results[sys][s].map(f));
  const mb = (n: number): string => (n / 2 ** 20).toFixed(0);
  const header = ['system', 'signal', 'items/s per core', 'items/s wall', 'peak RSS MiB', 'delivered/sent', 'generator cores'];
  const rows: string[][] = [];
  for (const sys of systems) {
    for (const s of SIGNALS) {
      const rs = results[sys][s];
      const deliveredAll = rs.reduce((n, x) => n + x.delivered, 0);
      const sentAll = rs.reduce((n, x) => n + x.sent, 0);
      rows.push([sys === 'sonde' ? 'Sonde' : 'OTel Collector 0.140 (ocb)', s === 'traces' ? 'spans' : 'metric points', describe(sum(sys, s, (x) => x.perCore)),
        si(sum(sys, s, (x) => x.wall).median), mb(sum(sys, s, (x) => x.rssPeak).median), `${deliveredAll}/${sentAll}`, sum(sys, s, (x) => x.genCores).median.toFixed(2)]);
    }
  }
  const spans = sum('sonde', 'traces', (x) => x.perCore).median;
  const points = sum('sonde', 'metrics', (x) => x.perCore).median;
  const colSpans = collector.bin ? sum('collector', 'traces', (x) => x.perCore).median : null;
  const rss = Math.max(sum('sonde', 'traces', (x) => x.rssPeak).median, sum('sonde', 'metrics', (x) => x.rssPeak).median);
  const ratioLine = collector.bin
    ? `Sonde / Collector per core, same round: spans ${describe(summarize(ratio.traces), (n) => n.toFixed(2))}; metric points ${describe(summarize(ratio.metrics), (n) => n.toFixed(2))}`
    : `OpenTelemetry Collector: not measured (${collector.why})`;
  console.log(`bench:export on ${describeMachine(m)}`);
  console.log(`${ROUNDS} rounds x ${DURATION_S}s per signal, ${CONCURRENCY} requests in flight of ${ITEMS} items, OTLP/gRPC in, batch (defaults), OTLP/gRPC gzip out`);
  console.log(textTable(header, rows));
  console.log(ratioLine);
  writeSection('Export throughput', `
Command: \`npm run bench:export\` (bench/export/run.ts). Machine: ${describeMachine(m)}.
Measured ${new Date().toISOString().slice(0, 16)}Z on a small VM (load average at start above; other work may share it): absolute
rates are noisy, compare within a round.

Pipeline in both systems: OTLP/gRPC receiver -> batch processor (defaults: 8192 items or 200 ms) ->
OTLP/gRPC exporter (defaults: gzip, queue of 1000 batches, 10 consumers) -> a Go sink that decodes
and counts every item (bench/export/otlpbench). The Go load generator sends one pre-encoded request
of ${ITEMS} spans (10 attributes each, 2 resources) or ${ITEMS} metric points (sums and 16-bucket
histograms) over and over, ${CONCURRENCY} requests in flight, ${DURATION_S} s per signal, ${ROUNDS} rounds alternating
the systems. Per core = items the sink received / CPU seconds of the system's process (all threads,
/proc/<pid>/stat utime+stime) from the start of the load until the last item arrived. The
generator's own CPU is shown to make sure it is not the bottleneck. The Collector is built from
the official components with the OpenTelemetry Collector Builder (bench/export/build-collector.sh,
cached in bench/.cache, never committed).

${markdownTable(header, rows)}

${ratioLine}.
`);
  console.log(JSON.stringify({
    bench: 'export', sonde_spans_per_s_per_core: num(spans), sonde_points_per_s_per_core: num(points),
    collector_spans_per_s_per_core: num(colSpans), sonde_rss_mb: num(rss / 2 ** 20, 3),
  }));
}

main().catch((err) => {
  console.error(`bench:export failed: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
});
