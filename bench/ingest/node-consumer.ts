// Sonde's side of bench:ingest, one process per run (like the C consumer):
//   node node-consumer.js MODE GEN_OBJ EVENTS CYCLES RING_BYTES SEED
// MODE decode:    RingReader + decodeTcpEvent (Sonde's reader alone)
// MODE aggregate: RingReader + decodeTcpEvent + TcpAggregator.record (what TcpCapture.onRecord does)
// Each cycle fills the ring with the generator (BPF_PROG_TEST_RUN), then drains it through
// RingReader.consume() in the receiver's batches, timing only the drain. One JSON line per cycle,
// the same shape as c-consumer.c prints.
import { BpfObject } from '../../src/receivers/ebpf/libbpf/bpf-object.js';
import { RingReader } from '../../src/receivers/ebpf/libbpf/ring-reader.js';
import { createTcpEvent, decodeTcpEvent } from '../../src/receivers/ebpf/tcp/tcp-event.js';
import { TcpAggregator } from '../../src/receivers/ebpf/tcp/tcp-aggregator.js';
import { bpfProgTestRun } from '../lib/bpf-test-run.js';

const [mode, objPath, eventsArg, cyclesArg, ringArg, seedArg] = process.argv.slice(2);
if ((mode !== 'decode' && mode !== 'aggregate') || !objPath || !eventsArg || !cyclesArg || !ringArg || !seedArg) {
  console.error('usage: node-consumer decode|aggregate GEN_OBJ EVENTS CYCLES RING_BYTES SEED');
  process.exit(2);
}
const events = Number(eventsArg);
const cycles = Number(cyclesArg);
const seed = Number(seedArg);

const obj = BpfObject.openFile(objPath);
const ring = obj.map('events');
ring.setMaxEntries(Number(ringArg));
obj.load();
const progFd = obj.program('generate').fd;

const ev = createTcpEvent();
const aggregator = new TcpAggregator({ maxSeries: 2000 });
let ok = 0;
let bad = 0;
const handler = mode === 'decode'
  ? (view: DataView, offset: number, length: number): void => {
    if (decodeTcpEvent(view, offset, length, ev) === null) ok++;
    else bad++;
  }
  : (view: DataView, offset: number, length: number): void => {
    if (decodeTcpEvent(view, offset, length, ev) !== null) {
      bad++;
      return;
    }
    ok++;
    aggregator.record(ev);
  };
const reader = new RingReader({ mapFd: ring.fd, size: ring.maxEntries, handler });

const ctx = new Uint8Array(8);
const ctxView = new DataView(ctx.buffer);
for (let c = 0; c < cycles; c++) {
  ctxView.setUint32(0, events, true);
  ctxView.setUint32(4, (seed + c * events) >>> 0, true);
  const f0 = process.hrtime.bigint();
  const made = bpfProgTestRun(progFd, ctx);
  const f1 = process.hrtime.bigint();
  ok = 0;
  bad = 0;
  const cpu0 = process.cpuUsage();
  const w0 = process.hrtime.bigint();
  while (reader.consume() > 0) {
    /* drain in the receiver's batch size */
  }
  const w1 = process.hrtime.bigint();
  const cpu = process.cpuUsage(cpu0);
  // Collecting is per interval (10 s by default), not per event: timed apart.
  const k0 = process.hrtime.bigint();
  const series = mode === 'aggregate' ? aggregator.collect().reduce((n, rm) => n + rm.scopeMetrics[0]!.metrics.reduce((m, x) => m + x.dataPoints.length, 0), 0) : 0;
  const k1 = process.hrtime.bigint();
  console.log(JSON.stringify({
    events: ok, bad, made, cpu_ns: (cpu.user + cpu.system) * 1000, wall_ns: Number(w1 - w0), fill_ns: Number(f1 - f0),
    collect_ns: Number(k1 - k0), points: series,
  }));
}
reader.close();
obj.close();
