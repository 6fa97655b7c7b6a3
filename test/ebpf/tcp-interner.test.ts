// Interner ids are reclaimed: a long-running host that sees ever new peers and processes keeps
// only the ids its live series use, and a reused id never merges two peers' series.
import { describe, expect, it } from 'vitest';
import { WordInterner } from '../../src/receivers/ebpf/tcp/interner.js';
import { TcpAggregator } from '../../src/receivers/ebpf/tcp/tcp-aggregator.js';
import { AF_INET, OFF, createTcpEvent, decodeTcpEvent, formatAddress, TCP_EVENT_SIZE } from '../../src/receivers/ebpf/tcp/tcp-event.js';
import type { NumberDataPoint } from '../../src/pdata/types.js';
import { buildRecord } from './tcp-records.js';

function words(...w: number[]): DataView {
  const v = new DataView(new ArrayBuffer(16));
  w.forEach((x, i) => v.setUint32(i * 4, x, true));
  return v;
}

describe('WordInterner', () => {
  it('gives the same id on a hit, frees unheld ids at sweep and hands them out again', () => {
    const it4 = new WordInterner(3);
    const a = it4.intern(words(1), 0, 1);
    expect(it4.lastWasNew).toBe(true);
    expect(it4.intern(words(1), 0, 1)).toBe(a);
    expect(it4.lastWasNew).toBe(false);
    const b = it4.intern(words(1, 2, 3, 4), 0, 4); // IPv6-sized key: own trie, own id
    const c = it4.intern(words(1, 2, 3, 5), 0, 4);
    expect(new Set([a, b, c]).size).toBe(3);
    expect(it4.intern(words(9), 0, 1)).toBe(-1); // full
    it4.retain(a);
    it4.retain(c);
    expect(it4.sweep()).toBe(1); // b was never held
    expect(it4.size).toBe(2);
    const d = it4.intern(words(9), 0, 1);
    expect(d).toBe(b); // reused
    expect(it4.intern(words(1, 2, 3, 4), 0, 4)).toBe(-1); // b's old key is gone, and the interner is full again
    it4.release(c);
    expect(it4.refCount(c)).toBe(0);
    expect(it4.sweep()).toBe(2); // c (released) and d (never held)
    expect(it4.intern(words(1, 2, 3, 5), 0, 4)).not.toBe(-1); // the pruned trie path is rebuilt
    expect(it4.intern(words(1), 0, 1)).toBe(a); // held ids survive sweeps
    expect(it4.size).toBe(2);
  });

  it('ignores release of unknown or unheld ids (never goes negative)', () => {
    const it1 = new WordInterner(4);
    const a = it1.intern(words(7), 0, 1);
    it1.release(a);
    it1.release(99);
    it1.release(-1);
    expect(it1.refCount(a)).toBe(0);
    it1.retain(a);
    expect(it1.refCount(a)).toBe(1);
    expect(it1.sweep()).toBe(0);
  });
});

describe('TcpAggregator: bounded interners over a long run', () => {
  it('200k distinct peers over 200 collection cycles with exiting processes: ids stay bounded, no series merged', () => {
    const CYCLES = 200;
    const PROCS = 10;
    const PEERS = 100; // per process per cycle: 1000 new peers per cycle, 200k in all
    const alive = new Set<number>();
    const overflows: string[] = [];
    let t = 1_000n;
    const agg = new TcpAggregator({
      maxSeries: 5000,
      hostName: 'h',
      nowUnixNs: () => (t += 1_000n),
      processName: () => undefined,
      processAlive: (pid) => alive.has(pid),
      onOverflow: (m) => overflows.push(m),
    });
    const ev = createTcpEvent();
    const view = new DataView(new ArrayBuffer(TCP_EVENT_SIZE));
    let maxAddrIds = 0;
    let maxComms = 0;
    let checkedPoints = 0;
    for (let c = 0; c < CYCLES; c++) {
      // the previous cycle's processes have exited
      alive.clear();
      const expected = new Map<number, Map<string, number>>();
      for (let i = 0; i < PROCS; i++) {
        const pid = 1000 + c * PROCS + i;
        alive.add(pid);
        const want = new Map<string, number>();
        expected.set(pid, want);
        for (let j = 0; j < PEERS; j++) {
          const g = (c * PROCS + i) * PEERS + j;
          const v6 = (g & 1) === 1;
          const remoteAddr = v6
            ? [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, (g >> 16) & 255, (g >> 8) & 255, g & 255]
            : [10, (g >> 16) & 255, (g >> 8) & 255, g & 255];
          buildRecord({ type: 1, pid, comm: `p${c}-${i}`, family: v6 ? 10 : 2, remoteAddr, remotePort: 443, outcome: 0, durationNs: 1000 }, view);
          if (decodeTcpEvent(view, 0, TCP_EVENT_SIZE, ev) !== null) throw new Error('bad record');
          // each peer connected to (1 + g % 3) times
          const times = 1 + (g % 3);
          for (let k = 0; k < times; k++) agg.record(ev);
          want.set(formatAddress(view, OFF.remoteAddr, v6 ? 10 : AF_INET), times);
        }
      }
      const rms = agg.collect();
      // this cycle's processes report exactly their own peers, each with its own count
      for (const [pid, want] of expected) {
        const rm = rms.find((r) => r.resource.attributes['process.pid'] === pid);
        expect(rm, `pid ${pid}`).toBeDefined();
        const conns = rm!.scopeMetrics[0]!.metrics.find((m) => m.name === 'sonde.tcp.connections')!;
        const got = new Map<string, number>();
        const twice: string[] = [];
        for (const p of conns.dataPoints as NumberDataPoint[]) {
          const addr = String(p.attributes['server.address']);
          if (got.has(addr)) twice.push(addr);
          got.set(addr, p.value);
        }
        // one expect per process, not per point: 200k expect() calls alone take seconds on a loaded CI box
        expect(twice, `pid ${pid}: addresses reported twice`).toEqual([]);
        expect(got).toEqual(want);
        checkedPoints += got.size;
      }
      const sizes = agg.internerSizes();
      maxAddrIds = Math.max(maxAddrIds, sizes.addresses);
      maxComms = Math.max(maxComms, sizes.comms);
    }
    expect(checkedPoints).toBe(CYCLES * PROCS * PEERS);
    expect(overflows).toEqual([]);
    // live at a collection: this cycle's peers plus the previous cycle's (forgotten one tick later)
    expect(maxAddrIds).toBeLessThanOrEqual(2 * PROCS * PEERS);
    expect(maxComms).toBeLessThanOrEqual(2 * PROCS);
    expect(agg.series('sonde.tcp.connections')).toBeLessThanOrEqual(2 * PROCS * PEERS);
    // everyone exits: two ticks later nothing is held
    alive.clear();
    agg.collect();
    agg.collect();
    expect(agg.internerSizes()).toEqual({ addresses: 0, comms: 0 });
    expect(agg.processCount).toBe(0);
    expect(agg.series('sonde.tcp.connections')).toBe(0);
    expect(agg.series('sonde.tcp.connect.duration')).toBe(0);
  });

  it('retransmits of unknown owners (pid 0) and overflowed events hold no ids after their process is forgotten', () => {
    const alive = new Set<number>([7]);
    const agg = new TcpAggregator({ maxSeries: 3, hostName: 'h', processName: () => undefined, processAlive: (pid) => alive.has(pid) });
    const ev = createTcpEvent();
    const view = new DataView(new ArrayBuffer(TCP_EVENT_SIZE));
    for (let g = 0; g < 50; g++) {
      buildRecord({ type: 1, pid: 7, comm: 'curl', remoteAddr: [10, 1, 0, g], remotePort: 80 }, view);
      decodeTcpEvent(view, 0, TCP_EVENT_SIZE, ev);
      agg.record(ev); // 3 series, 47 points in the overflow series
      buildRecord({ type: 4, pid: 0, comm: '', direction: 0 as unknown as 1, remoteAddr: [10, 2, 0, g], remotePort: 80 }, view);
      decodeTcpEvent(view, 0, TCP_EVENT_SIZE, ev);
      agg.record(ev);
    }
    agg.collect();
    // held: 3 connection series of pid 7 + 3 retransmit series of pid 0; the overflowed peers are freed
    expect(agg.internerSizes().addresses).toBe(6);
    alive.clear();
    agg.collect();
    expect(agg.internerSizes()).toEqual({ addresses: 0, comms: 0 });
  });
});
