// `sonde run` end to end with the file exporter (OTLP/JSON lines): the acceptance run.
// 200 successful + 50 refused connects from a child process, over 127.0.0.1 and again over ::1,
// with collection_interval 1s; the admin endpoint answers throughout.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { promValue } from '../helpers/sonde-process.js';
import { requireBpf } from './bpf-available.js';
import { listenReplying, runConnectChild, type ChildResult } from './harness.js';
import { lastPointsFor, num } from './otlp-json-points.js';
import { startEbpfRun, type EbpfRun } from './sonde-run.js';

const OK = 200;
const REFUSED = 50;
const SEND = 100; // bytes the child writes per connection
const REPLY = 64; // bytes the listener answers with
// Per family: connect (200 success + 50 refused), 200 accepts, 200 client and 200 server closes.
const EVENTS_PER_FAMILY = OK + REFUSED + OK + 2 * OK;

describe('sonde run: TCP capture through the file exporter (real kernel)', () => {
  const bpf = requireBpf();
  let run: EbpfRun | undefined;
  let fileText = '';
  let metricsText = '';
  let healthy = 0;
  const runs: { host: string; type: string; okPort: number; refusedPort: number; child: ChildResult; wallS: number }[] = [];

  beforeAll(async () => {
    if (!bpf.ok) return;
    const admin = await freePort();
    // Ports from this worker's slice (test/helpers/free-port.ts): no other test file listens on the
    // "closed" ones, and the receiver is scoped to the four in the kernel, as a user scopes Sonde on
    // a shared host, so the parallel file's connect storms take no ring space or series here.
    const families = [];
    for (const [host, type] of [['127.0.0.1', 'ipv4'], ['::1', 'ipv6']] as const) {
      families.push({ host, type, okPort: await freePort(host), refusedPort: await freePort(host) });
    }
    run = await startEbpfRun({
      tmpPrefix: 'sonde-tcp-e2e-',
      admin,
      ebpf: { collection_interval: '1s', include: { ports: families.flatMap((f) => [f.okPort, f.refusedPort]) }, http: { enabled: false } },
      signals: ['metrics'],
    });
    const { url, metrics } = run;
    const health = setInterval(() => {
      fetch(url('/healthz')).then((r) => r.status === 200 && healthy++, () => {});
    }, 100);
    try {
      for (const { host, type, okPort, refusedPort } of families) {
        const ok = await listenReplying(host, okPort, SEND, REPLY);
        const t0 = Date.now();
        const child = await runConnectChild({ host, okPort, closedPort: refusedPort, ok: OK, refused: REFUSED, send: SEND, expect: REPLY });
        runs.push({ host, type, okPort, refusedPort, child, wallS: (Date.now() - t0) / 1000 });
        await new Promise((r) => ok.close(r));
      }
      // Poll /metrics (bounded) until the records are read and the counters flushed, and keep
      // probing /healthz for at least 2.5 s more (two more collection intervals).
      const settleFrom = Date.now();
      for (const end = Date.now() + 30_000; Date.now() < end; ) {
        metricsText = await metrics();
        const flushed =
          promValue(metricsText, 'sonde_ebpf_events_total', { program: 'tcp' }) >= 2 * EVENTS_PER_FAMILY &&
          promValue(metricsText, 'sonde_receiver_accepted_items_total', { receiver: 'ebpf' }) > 0;
        if (flushed && Date.now() - settleFrom >= 2500) break;
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      clearInterval(health);
    }
    const { code } = await run.sonde.stop('SIGTERM');
    expect(code).toBe(0);
    fileText = readFileSync(run.outPath, 'utf8');
  }, 120_000);

  afterAll(async () => {
    await run?.dispose();
  });

  it.runIf(bpf.ok)('counts exactly 200 successful and 50 refused connects per family, attributed to the child', () => {
    expect(runs).toHaveLength(2);
    for (const run of runs) {
      expect(run.child).toMatchObject({ ok: OK, refused: REFUSED, errors: 0 });
      const pts = lastPointsFor(fileText, run.child.pid);
      const conns = pts.filter((p) => p.name === 'sonde.tcp.connections');
      const at = (outcome: string, port: number) =>
        conns.filter((p) => p.a['sonde.tcp.outcome'] === outcome && num(p.a['server.port']) === port && p.a['network.type'] === run.type && p.a['network.tcp.direction'] === 'outbound');
      expect(at('success', run.okPort).map((p) => p.value)).toEqual([OK]);
      expect(at('refused', run.refusedPort).map((p) => p.value)).toEqual([REFUSED]);
      expect(at('success', run.okPort)[0]!.a).toMatchObject({ 'process.executable.name': 'node', 'server.address': run.host });
      expect(conns[0]!.res).toMatchObject({ 'process.executable.name': 'node', 'service.name': 'node' });
      const hs = pts.filter((p) => p.name === 'sonde.tcp.connect.duration' && num(p.a['server.port']) === run.okPort);
      expect(hs.map((h) => h.count)).toEqual([OK]);
      expect(hs[0]!.min!).toBeGreaterThan(0);
      expect(hs[0]!.max!).toBeLessThan(run.wallS);
      const io = (dir: string) => pts.filter((p) => p.name === 'sonde.tcp.io' && p.a['network.io.direction'] === dir).reduce((a, p) => a + p.value!, 0);
      expect(io('transmit')).toBe(OK * SEND);
      expect(io('receive')).toBe(OK * REPLY);
    }
  });

  it.runIf(bpf.ok)('sees the inbound side of the 200, in the listening process', () => {
    for (const run of runs) {
      const inbound = lastPointsFor(fileText, process.pid).filter(
        (p) => p.name === 'sonde.tcp.connections' && p.a['network.tcp.direction'] === 'inbound' && num(p.a['server.port']) === run.okPort,
      );
      expect(inbound.map((p) => [p.a['sonde.tcp.outcome'], p.a['network.type'], p.value])).toEqual([['success', run.type, OK]]);
    }
    // The listener's payload bytes, exactly (sonde.tcp.io is per process: both families summed).
    const io = (dir: string) =>
      lastPointsFor(fileText, process.pid)
        .filter((p) => p.name === 'sonde.tcp.io' && p.a['network.io.direction'] === dir)
        .reduce((a, p) => a + p.value!, 0);
    expect(io('receive')).toBe(runs.length * OK * SEND);
    expect(io('transmit')).toBe(runs.length * OK * REPLY);
  });

  it.runIf(bpf.ok)('keeps answering /healthz and exports its eBPF counters on /metrics', () => {
    expect(healthy).toBeGreaterThan(5);
    expect(promValue(metricsText, 'sonde_ebpf_events_total', { program: 'tcp' })).toBeGreaterThanOrEqual(2 * EVENTS_PER_FAMILY);
    // the loss series exist from the start (a loss would show, not vanish); none at this pace
    for (const program of ['tcp_state', 'tcp_accept', 'tcp_retransmit', 'tcp_decoder']) {
      expect(promValue(metricsText, 'sonde_ebpf_events_lost_total', { program })).toBe(0);
    }
    expect(promValue(metricsText, 'sonde_receiver_accepted_items_total', { receiver: 'ebpf' })).toBeGreaterThan(0);
    // the ladder's choice is visible on /metrics too
    expect(promValue(metricsText, 'sonde_ebpf_hook_info', { feature: 'tcp_connect' })).toBe(1);
  });
});
