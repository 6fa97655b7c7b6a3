// bench:ingest — how fast Sonde takes real TCP events off a BPF ring buffer, against the limit.
//
// A BPF generator (gen.bpf.c, the real struct sonde_tcp_event and the real reserve/submit helpers)
// fills a ring with EVENTS records at kernel speed; then one consumer drains it and only the
// drain is timed, as CPU time of the consumer process (events per CPU-second = per core):
//   c          minimal libbpf consumer (ring_buffer__consume), the limit
//   decode     Sonde's RingReader + decodeTcpEvent
//   aggregate  Sonde's RingReader + decodeTcpEvent + TcpAggregator (the receiver's record path)
// The three alternate within each round; each run drops its first cycle (JIT warm-up); the
// ratios are taken within a round and the median over rounds is reported.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, repoRoot } from '../lib/paths.js';
import { must, runJsonLines } from '../lib/proc.js';
import { describe, num, pct, si, summarize } from '../lib/stats.js';
import { markdownTable, textTable } from '../lib/table.js';
import { describeMachine, machine } from '../lib/machine.js';
import { writeSection } from '../lib/docs.js';

const EVENTS = Number(process.env.SONDE_BENCH_EVENTS ?? 400_000);
const CYCLES = Number(process.env.SONDE_BENCH_CYCLES ?? 6);
const ROUNDS = Number(process.env.SONDE_BENCH_ROUNDS ?? 5);
const RING_BYTES = 64 << 20; // 144-byte records: 466k fit, so EVENTS never overflows
const CONSUMERS = ['c', 'decode', 'aggregate'] as const;
type Consumer = (typeof CONSUMERS)[number];

function newer(src: string, out: string): boolean {
  return !existsSync(out) || statSync(src).mtimeMs > statSync(out).mtimeMs;
}

function build(): { gen: string; consumer: string } {
  const root = repoRoot();
  const dir = cacheDir('ingest');
  const gen = join(dir, 'gen.bpf.o');
  const genSrc = join(root, 'bench/ingest/gen.bpf.c');
  if (newer(genSrc, gen) || newer(join(root, 'bpf/tcp.h'), gen) || newer(join(root, 'bpf/common.h'), gen)) {
    const arch = process.arch === 'arm64' ? 'arm64' : 'x86';
    const multiarch = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
    must(process.env.CLANG ?? 'clang', ['-g', '-O2', '-Wall', '-target', 'bpf', `-D__TARGET_ARCH_${arch}`,
      '-I', join(root, 'bpf'), `-I/usr/include/${multiarch}`, '-c', genSrc, '-o', gen]);
  }
  const consumer = join(dir, 'c-consumer');
  const cSrc = join(root, 'bench/ingest/c-consumer.c');
  if (newer(cSrc, consumer)) must(process.env.CC ?? 'cc', ['-O2', '-Wall', '-o', consumer, cSrc, '-lbpf']);
  return { gen, consumer };
}

interface Cycle { events: number; cpu_ns: number; wall_ns: number; fill_ns: number; made: number; bad: number }

async function runConsumer(kind: Consumer, paths: { gen: string; consumer: string }, seed: number): Promise<Cycle[]> {
  const args = [paths.gen, String(EVENTS), String(CYCLES), String(RING_BYTES), String(seed)];
  const lines = kind === 'c'
    ? await runJsonLines(paths.consumer, args, { timeoutMs: 120_000 })
    : await runJsonLines(process.execPath, [join(repoRoot(), 'bench/.cache/dist/bench/ingest/node-consumer.js'), kind, ...args], { timeoutMs: 120_000 });
  const cycles = lines as unknown as Cycle[];
  for (const c of cycles) {
    if (c.made !== EVENTS || c.events !== EVENTS || c.bad !== 0) {
      throw new Error(`${kind}: generator made ${c.made}, consumer read ${c.events} good and ${c.bad} bad of ${EVENTS}`);
    }
  }
  return cycles.slice(1); // first cycle: warm-up (JIT, page faults)
}

const rate = (cycles: Cycle[], key: 'cpu_ns' | 'wall_ns' | 'fill_ns'): number =>
  cycles.reduce((n, c) => n + c.events, 0) / (cycles.reduce((n, c) => n + c[key], 0) / 1e9);

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:ingest needs root (BPF program load)');
  const m = machine();
  const paths = build();
  const perCore: Record<Consumer, number[]> = { c: [], decode: [], aggregate: [] };
  const wall: Record<Consumer, number[]> = { c: [], decode: [], aggregate: [] };
  const ratioDecode: number[] = [];
  const ratioAggregate: number[] = [];
  const generator: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const seed = 1 + r * 7919;
    const got = {} as Record<Consumer, number>;
    // Rotate the order so no consumer always runs first after a quiet spell.
    const order = CONSUMERS.map((_, i) => CONSUMERS[(i + r) % CONSUMERS.length]!);
    for (const kind of order) {
      const cycles = await runConsumer(kind, paths, seed);
      got[kind] = rate(cycles, 'cpu_ns');
      perCore[kind].push(got[kind]);
      wall[kind].push(rate(cycles, 'wall_ns'));
      generator.push(rate(cycles, 'fill_ns'));
    }
    ratioDecode.push(got.decode / got.c);
    ratioAggregate.push(got.aggregate / got.c);
    process.stderr.write(`round ${r + 1}/${ROUNDS}: c ${si(got.c)}/s, decode ${si(got.decode)}/s, aggregate ${si(got.aggregate)}/s per core\n`);
  }
  const s = { c: summarize(perCore.c), decode: summarize(perCore.decode), aggregate: summarize(perCore.aggregate) };
  const rd = summarize(ratioDecode);
  const ra = summarize(ratioAggregate);
  const gen = summarize(generator);
  const decodeOk = rd.median >= 0.5;
  const aggOk = s.aggregate.median > 2e6;
  const header = ['consumer', 'events/s per core (median, min..max, spread)', 'ratio to C', 'events/s wall'];
  const rows = [
    ['C + libbpf ring_buffer__consume (limit)', describe(s.c), '1', si(summarize(wall.c).median)],
    ['Sonde RingReader + decode', describe(s.decode), `${rd.median.toFixed(2)} (${rd.min.toFixed(2)}..${rd.max.toFixed(2)})`, si(summarize(wall.decode).median)],
    ['Sonde RingReader + decode + aggregate', describe(s.aggregate), `${ra.median.toFixed(3)} (${ra.min.toFixed(3)}..${ra.max.toFixed(3)})`, si(summarize(wall.aggregate).median)],
  ];
  console.log(`bench:ingest on ${describeMachine(m)}`);
  console.log(`${EVENTS} events per cycle, ${CYCLES - 1} timed cycles per run, ${ROUNDS} rounds; generator ${describe(gen)} events/s (BPF_PROG_TEST_RUN, wall)`);
  console.log(textTable(header, rows));
  console.log(`target decode >= 0.5 x C: ${decodeOk ? 'met' : 'MISSED'} (${rd.median.toFixed(2)}); target aggregate > 2M/s per core: ${aggOk ? 'met' : 'MISSED'} (${si(s.aggregate.median)})`);

  writeSection('Ring buffer ingest', `
Command: \`npm run bench:ingest\` (bench/ingest/run.ts). Machine: ${describeMachine(m)}.
Measured ${new Date().toISOString().slice(0, 16)}Z on a small VM (load average at start above; other work may share it), so absolute
figures are noisy; the ratios are taken within each round.

A BPF program (bench/ingest/gen.bpf.c, run with BPF_PROG_TEST_RUN) writes ${EVENTS} real TCP events
(struct sonde_tcp_event from bpf/tcp.h, through the same sonde_reserve/sonde_submit helpers as the
TCP program; 40% connect, 10% accept, 45% close, 5% retransmit over 16 processes and 32 servers)
into a 64 MiB ring (the same seeded stream for the three consumers in a round); then one consumer
drains it and only the drain is timed, as CPU time of the
consumer process, so the rates are events per second per core. The generator itself ran at
${si(gen.median)} events/s (wall). ${ROUNDS} rounds, consumers alternating; ${CYCLES - 1} timed cycles per run
after one warm-up cycle.

${markdownTable(header, rows)}

Targets: decode at least half the C consumer's rate — **${decodeOk ? 'met' : 'missed'}** (${rd.median.toFixed(2)} x);
aggregation above 2 M events/s on one core — **${aggOk ? 'met' : 'missed'}** (${si(s.aggregate.median)} events/s).
`);
  const json = { bench: 'ingest', c_events_per_s: num(s.c.median), decode_events_per_s: num(s.decode.median), aggregate_events_per_s: num(s.aggregate.median) };
  console.log(JSON.stringify(json));
}

main().catch((err) => {
  console.error(`bench:ingest failed: ${(err as Error).message}`);
  process.exitCode = 1;
});
