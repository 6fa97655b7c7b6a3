// The per-metric series cap (max_series) against the real kernel, through `sonde run`: connects to
// more distinct server ports than the cap allows give exactly `cap` series per metric plus the
// overflow series, which carries the rest; nothing is lost on the way, and /metrics counts the
// points that went to overflow series exactly (sonde_ebpf_series_overflow_total{metric}).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { pollValue } from '../helpers/poll.js';
import { promValue } from '../helpers/sonde-process.js';
import { requireBpf } from './bpf-available.js';
import { listenReplying, runConnectChild, type ChildResult } from './harness.js';
import { lastPointsFor, num, type Point } from './otlp-json-points.js';
import { startEbpfRun, type EbpfRun } from './sonde-run.js';

const CAP = 4; // receivers.ebpf.max_series
const PORTS = 6; // distinct listening ports, more than the cap
const PER_PORT = 5; // connects to each
const SEND = 100;
const REPLY = 40;
const CONNECTS = PORTS * PER_PORT;

// Distinct series keys each metric sees in this run, over both processes (the cap is per metric,
// over all processes): every key holds exactly PER_PORT points, whichever keys get in first.
//   connections: outbound (child) and inbound (listener) per port; connect.duration: outbound per
//   port; connection.duration: a close per port and direction; io: transmit/receive per process.
const KEYS = {
  'sonde.tcp.connections': 2 * PORTS,
  'sonde.tcp.connect.duration': PORTS,
  'sonde.tcp.connection.duration': 2 * PORTS,
} as const;
type CappedMetric = keyof typeof KEYS;
const METRICS = Object.keys(KEYS) as CappedMetric[];

const isOverflow = (p: Point): boolean => p.a['otel.metric.overflow'] === true;
const amount = (p: Point): number => p.value ?? p.count ?? 0;

describe('sonde run: the TCP series cap (real kernel)', () => {
  const bpf = requireBpf();
  let run: EbpfRun | undefined;
  let fileText = '';
  let metricsText = '';
  let child: ChildResult | undefined;
  const ports: number[] = [];

  /** The child's and the listener's (this process's) points of the last export holding each. */
  const points = (text: string): Point[] => (child ? [...lastPointsFor(text, child.pid), ...lastPointsFor(text, process.pid)] : []);
  const total = (pts: Point[], metric: string): number => pts.filter((p) => p.name === metric).reduce((a, p) => a + amount(p), 0);

  beforeAll(async () => {
    if (!bpf.ok) return;
    const admin = await freePort();
    for (let i = 0; i < PORTS; i++) ports.push(await freePort());
    const closed = await freePort(); // the child makes no refused connects; the argument is required
    run = await startEbpfRun({
      tmpPrefix: 'sonde-tcp-overflow-',
      admin,
      ebpf: { collection_interval: '1s', max_series: CAP, include: { ports }, http: { enabled: false } },
      signals: ['metrics'],
    });
    const servers = await Promise.all(ports.map((port) => listenReplying('127.0.0.1', port, SEND, REPLY)));
    try {
      child = await runConnectChild({ host: '127.0.0.1', okPort: ports, closedPort: closed, ok: PER_PORT, refused: 0, send: SEND, expect: REPLY, concurrency: 2 });
    } finally {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    }
    // Poll (bounded) until the export file holds every connect and close of both sides and
    // /metrics has flushed the overflow counts; then stop Sonde, which exports once more.
    const { outPath, metrics } = run;
    await pollValue(
      async () => {
        metricsText = await metrics();
        let text = '';
        try {
          text = readFileSync(outPath, 'utf8');
        } catch {
          // not written yet
        }
        return { pts: points(text), overflow: promValue(metricsText, 'sonde_ebpf_series_overflow_total', { metric: 'sonde.tcp.connection.duration' }) };
      },
      ({ pts, overflow }) =>
        total(pts, 'sonde.tcp.connections') >= 2 * CONNECTS && total(pts, 'sonde.tcp.connection.duration') >= 2 * CONNECTS && overflow >= (KEYS['sonde.tcp.connection.duration'] - CAP) * PER_PORT,
      30_000,
      200,
    );
    const { code } = await run.sonde.stop('SIGTERM');
    expect(code).toBe(0);
    fileText = readFileSync(outPath, 'utf8');
  }, 120_000);

  afterAll(async () => {
    await run?.dispose();
  });

  it.runIf(bpf.ok)('keeps exactly max_series series per metric and puts the rest in the overflow series', () => {
    expect(child).toMatchObject({ ok: CONNECTS, refused: 0, errors: 0 });
    const pts = points(fileText);
    for (const metric of METRICS) {
      const mine = pts.filter((p) => p.name === metric);
      const real = mine.filter((p) => !isOverflow(p));
      const overflow = mine.filter(isOverflow);
      // exactly `cap` series with their full attributes, each holding all of its key's points
      expect(real, metric).toHaveLength(CAP);
      for (const p of real) {
        expect(amount(p), `${metric} ${JSON.stringify(p.a)}`).toBe(PER_PORT);
        expect(ports).toContain(num(p.a['server.port']));
        expect(p.a['process.executable.name']).toBe('node');
      }
      // one overflow series per process at most, marked and otherwise bare
      expect(overflow.length, metric).toBeGreaterThan(0);
      expect(overflow.length, metric).toBeLessThanOrEqual(2);
      for (const p of overflow) expect(p.a).toEqual({ 'otel.metric.overflow': true });
      expect(overflow.reduce((a, p) => a + amount(p), 0), metric).toBe((KEYS[metric] - CAP) * PER_PORT);
    }
    // nothing lost to the cap: the totals are the connects made, on each side
    const outbound = (p: Point) => p.a['network.tcp.direction'] === 'outbound';
    expect(total(lastPointsFor(fileText, child!.pid), 'sonde.tcp.connections')).toBe(CONNECTS);
    expect(total(lastPointsFor(fileText, process.pid), 'sonde.tcp.connections')).toBe(CONNECTS);
    expect(total(pts, 'sonde.tcp.connect.duration')).toBe(CONNECTS);
    expect(total(pts, 'sonde.tcp.connection.duration')).toBe(2 * CONNECTS);
    expect(pts.filter((p) => p.name === 'sonde.tcp.connections' && outbound(p)).every((p) => p.a['sonde.tcp.outcome'] === 'success')).toBe(true);
  });

  it.runIf(bpf.ok)('leaves metrics under the cap alone: sonde.tcp.io has its 4 series, with the exact bytes', () => {
    const io = (pid: number, dir: string) =>
      lastPointsFor(fileText, pid).filter((p) => p.name === 'sonde.tcp.io' && p.a['network.io.direction'] === dir).map((p) => p.value);
    expect(io(child!.pid, 'transmit')).toEqual([CONNECTS * SEND]);
    expect(io(child!.pid, 'receive')).toEqual([CONNECTS * REPLY]);
    expect(io(process.pid, 'receive')).toEqual([CONNECTS * SEND]);
    expect(io(process.pid, 'transmit')).toEqual([CONNECTS * REPLY]);
    expect(points(fileText).filter((p) => p.name === 'sonde.tcp.io' && isOverflow(p))).toEqual([]);
  });

  it.runIf(bpf.ok)('counts every point that went to an overflow series in /metrics, per metric', () => {
    const pts = points(fileText);
    for (const metric of METRICS) {
      const inOverflow = pts.filter((p) => p.name === metric && isOverflow(p)).reduce((a, p) => a + amount(p), 0);
      expect(promValue(metricsText, 'sonde_ebpf_series_overflow_total', { metric }), metric).toBe((KEYS[metric] - CAP) * PER_PORT);
      expect(promValue(metricsText, 'sonde_ebpf_series_overflow_total', { metric }), metric).toBe(inOverflow);
    }
    // no series of a metric under the cap overflowed
    for (const metric of ['sonde.tcp.io', 'sonde.tcp.retransmits']) {
      expect(promValue(metricsText, 'sonde_ebpf_series_overflow_total', { metric }) || 0, metric).toBe(0);
    }
    // and nothing was lost on the way (the totals above are complete)
    for (const program of ['tcp_state', 'tcp_accept', 'tcp_state_evicted', 'tcp_state_missed', 'tcp_accept_missed', 'tcp_decoder']) {
      expect(promValue(metricsText, 'sonde_ebpf_events_lost_total', { program }), program).toBe(0);
    }
  });
});
