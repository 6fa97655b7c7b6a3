// bench:memory — Sonde's resident memory idle and under the loads of bench:overhead (nginx under
// wrk, eBPF TCP + HTTP capture) and bench:export (OTLP spans and metric points), in one process
// running both pipelines; plus the Kubernetes metadata cache per 10k pods, measured by the k8s
// area's own test (test/k8s/memory.test.ts), whose printed figure is parsed here.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { rssBytes, runJsonLines } from '../lib/proc.js';
import { describe, median, num, summarize } from '../lib/stats.js';
import { markdownTable, textTable } from '../lib/table.js';
import { describeMachine, machine } from '../lib/machine.js';
import { writeSection } from '../lib/docs.js';
import { repoRoot } from '../lib/paths.js';
import { freePort, runSonde, sleep, type RunningSonde } from '../lib/services.js';
import { buildOtlpbench, startSink } from '../lib/otlp-sink.js';
import { ebpfBenchReceiver, sondeBenchConfig } from '../lib/sonde-config.js';
import { startNginx } from '../overhead/nginx.js';
import { runWrk } from '../overhead/wrk.js';

const ROUNDS = Number(process.env.SONDE_BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.SONDE_BENCH_SECONDS ?? 8);
const MiB = 2 ** 20;

function config(nginxPort: number, otlpPort: number, sinkAddr: string, admin: string): string {
  return sondeBenchConfig({ target: { kind: 'sonde', admin }, receivers: { ebpf: ebpfBenchReceiver(nginxPort) }, otlpPort, sinkAddr });
}

/** Samples RSS every 200 ms while `work` runs; returns the peak. */
async function peakDuring(pid: number, work: () => Promise<unknown>): Promise<number> {
  let peak = rssBytes(pid);
  const t = setInterval(() => { try { peak = Math.max(peak, rssBytes(pid)); } catch { /* exited */ } }, 200);
  try {
    await work();
  } finally {
    clearInterval(t);
  }
  return Math.max(peak, rssBytes(pid));
}

/** bytes per pod from the k8s area's memory test, or why not. */
function bytesPerPod(): { value: number | null; note: string } {
  const r = spawnSync('npx', ['vitest', 'run', 'test/k8s/memory.test.ts', '--reporter=verbose'], {
    cwd: repoRoot(), encoding: 'utf8', timeout: 600_000, env: { ...process.env, CI: '', SONDE_TEST_BUILT: '1' },
  });
  const out = `${r.stdout}\n${r.stderr}`;
  const m = /retained (\d+) B\/pod/.exec(out);
  if (!m) return { value: null, note: `test/k8s/memory.test.ts printed no figure (exit ${r.status ?? r.signal}): ${out.trim().split('\n').slice(-4).join(' ')}` };
  return { value: Number(m[1]), note: `test/k8s/memory.test.ts ${r.status === 0 ? 'passed' : `exited ${r.status}`}` };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:memory needs root (eBPF)');
  const m = machine();
  const otlpbench = buildOtlpbench();
  const sink = await startSink(otlpbench);
  const nginxPort = await freePort();
  const nginx = await startNginx(nginxPort);
  const idle: number[] = [];
  const http: number[] = [];
  const spans: number[] = [];
  const points: number[] = [];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const otlpPort = await freePort();
      const admin = `127.0.0.1:${await freePort()}`;
      const sonde: RunningSonde = await runSonde(config(nginxPort, otlpPort, sink.grpc, admin), admin);
      try {
        await sleep(5000); // settle: programs attached, first intervals emitted
        const samples: number[] = [];
        for (let i = 0; i < 10; i++) {
          samples.push(rssBytes(sonde.pid));
          await sleep(500);
        }
        idle.push(median(samples));
        http.push(await peakDuring(sonde.pid, () => runWrk(`http://127.0.0.1:${nginxPort}/`, { threads: 1, connections: 16, seconds: SECONDS })));
        for (const [signal, out] of [['traces', spans], ['metrics', points]] as const) {
          out.push(await peakDuring(sonde.pid, () => runJsonLines(otlpbench, ['load', '-target', `127.0.0.1:${otlpPort}`, '-signal', signal,
            '-items', '500', '-concurrency', '8', '-duration', `${SECONDS}s`, '-max-requests', '200000'], { timeoutMs: (SECONDS + 60) * 1000 })));
        }
        process.stderr.write(`round ${r + 1}/${ROUNDS}: idle ${(idle[r]! / MiB).toFixed(0)} MiB, nginx load ${(http[r]! / MiB).toFixed(0)} MiB, ` +
          `spans ${(spans[r]! / MiB).toFixed(0)} MiB, points ${(points[r]! / MiB).toFixed(0)} MiB\n`);
      } finally {
        await sonde.stop();
      }
    }
  } finally {
    await nginx.stop();
    await sink.stop();
  }
  const pod = bytesPerPod();
  const mb = (n: number): string => `${(n / MiB).toFixed(1)} MiB`;
  const sIdle = summarize(idle);
  const sHttp = summarize(http);
  const sSpans = summarize(spans);
  const sPoints = summarize(points);
  const loadPeak = Math.max(sHttp.median, sSpans.median, sPoints.median);
  const header = ['state', 'resident memory (median, min..max, spread)'];
  const rows = [
    ['idle (eBPF TCP + HTTP and OTLP receivers, batch, OTLP exporter), after 5 s', describe(sIdle, mb)],
    [`peak under nginx + wrk -c16 (${SECONDS} s, eBPF capture)`, describe(sHttp, mb)],
    [`peak under OTLP spans (8 x 500 in flight, ${SECONDS} s)`, describe(sSpans, mb)],
    [`peak under OTLP metric points (8 x 500 in flight, ${SECONDS} s)`, describe(sPoints, mb)],
    ['Kubernetes metadata cache per 10k pods', pod.value === null ? `n/a (${pod.note})` : `${((pod.value * 10_000) / MiB).toFixed(1)} MiB (${pod.value} B per pod; ${pod.note})`],
  ];
  console.log(`bench:memory on ${describeMachine(m)}`);
  console.log(textTable(header, rows));
  writeSection('Memory', `
Command: \`npm run bench:memory\` (bench/memory/run.ts). Machine: ${describeMachine(m)}.
Measured ${new Date().toISOString().slice(0, 16)}Z on a small VM (load average at start above; other work may share it).

One Sonde process runs both pipelines (\`ebpf\` with TCP and HTTP capture on the nginx port, and
\`otlp\` gRPC, into batch and an OTLP/gRPC exporter to a Go sink). Resident memory (VmRSS of the
process) is read idle, then its peak (sampled every 200 ms) under each load of bench:overhead and
bench:export in turn; ${ROUNDS} rounds, a fresh Sonde each. The metadata cache figure is the retained heap
per pod that test/k8s/memory.test.ts measures for 50,000 pods (see "Kubernetes metadata cache"),
scaled to 10k pods.

${markdownTable(header, rows)}
`);
  console.log(JSON.stringify({
    bench: 'memory', idle_rss_mb: num(sIdle.median / MiB, 3), load_rss_mb: num(loadPeak / MiB, 3), bytes_per_pod: pod.value,
  }));
}

main().catch((err) => {
  console.error(`bench:memory failed: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
});
