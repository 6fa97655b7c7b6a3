// The libbpf layer against the real kernel: open, configure, load, attach, ring reading, close.
import { createServer, connect, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfObject, CloseGroup, RingReader, LostCounter, ensureTracefs } from '../../src/receivers/ebpf/libbpf/index.js';
import { SondeError } from '../../src/errors/index.js';
import { requireBpf } from './bpf-available.js';
import { pollUntil } from '../helpers/poll.js';

const TCP_OBJECT = fileURLToPath(new URL('../../bpf/out/tcp.bpf.o', import.meta.url));

describe('libbpf layer (real kernel)', () => {
  const bpf = requireBpf();
  let server: Server;
  let port = 0;

  beforeAll(async () => {
    server = createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  it.runIf(bpf.ok)('loads the TCP object, attaches tracepoints and reads connect events from the ring', async () => {
    ensureTracefs();
    const group = new CloseGroup();
    const obj = group.add(BpfObject.openFile(TCP_OBJECT));
    try {
      for (const p of obj.programs()) if (p.name.includes('fentry') || p.name.includes('kprobe')) p.autoload = false;
      const vars = obj.rodataVariables();
      expect([...vars.keys()].sort()).toEqual(['connect_hook', 'filter_flags', 'sonde_wakeup_bytes']);
      // Only this process's events (filter_flags = PID_INCLUDE | ACTIVE): unfiltered, a connect storm
      // run by the parallel test file could fill this 64 KiB ring faster than we read it and lose ours.
      obj.setRodata({ connect_hook: 3, sonde_wakeup_bytes: 0, filter_flags: 4 | 8 });
      obj.map('tcp_events').setMaxEntries(1 << 16);
      obj.load();
      expect(obj.map('tcp_events').maxEntries).toBe(1 << 16);
      const pidKey = new Uint8Array(4);
      new DataView(pidKey.buffer).setUint32(0, process.pid, true);
      obj.map('pid_filter').update(pidKey, new Uint8Array([1]));
      for (const p of obj.programs()) if (p.autoload) p.attach();

      const seen: { type: number; remotePort: number; pid: number }[] = [];
      const reader = new RingReader({
        mapFd: obj.map('tcp_events').fd,
        size: 1 << 16,
        handler: (view, off) => {
          seen.push({ type: view.getUint8(off + 3), remotePort: view.getUint16(off + 70, true), pid: view.getUint32(off + 56, true) });
        },
        pollIntervalMs: 60_000, // no timer help: only the kernel's wake-ups (wakeup threshold 0) deliver
      });
      group.add(reader);
      reader.start();

      for (let i = 0; i < 5; i++) {
        await new Promise<void>((resolve, reject) => {
          const s = connect(port, '127.0.0.1', () => s.end());
          s.on('close', () => resolve());
          s.on('error', reject);
        });
      }
      const connects = () => seen.filter((e) => e.type === 1 && e.remotePort === port && e.pid === process.pid);
      // delivered by wake-ups only: wait for them (bounded) rather than for a fixed time
      await pollUntil(() => connects().length >= 5, 10_000, 20);
      expect(connects().length).toBe(5);
      expect(reader.stats.records).toBeGreaterThanOrEqual(5);
      expect(reader.stats.wakeups).toBeGreaterThan(0);
      const lost = new LostCounter(obj, ['state', 'accept', 'retransmit']);
      expect(lost.read(0)).toBe(0);
    } finally {
      group.close();
    }
    expect(obj.closed).toBe(true);
    group.close(); // idempotent
  });

  it.runIf(bpf.ok)('adaptive wakeup: below the threshold records wait for the reader\'s own poll', async () => {
    ensureTracefs();
    const obj = BpfObject.openFile(TCP_OBJECT);
    const group = new CloseGroup();
    group.add(obj);
    try {
      for (const p of obj.programs()) if (p.name.includes('fentry') || p.name.includes('kprobe')) p.autoload = false;
      // Only this process's events (other traffic on the host would keep the fd readable and hide
      // the effect): filter_flags = PID_INCLUDE | ACTIVE, pid_filter[pid] = include.
      obj.setRodata({ connect_hook: 3, sonde_wakeup_bytes: 1 << 20, filter_flags: 4 | 8 }); // threshold never reached: no wake-ups
      obj.map('tcp_events').setMaxEntries(1 << 20);
      obj.load();
      const pidKey = new Uint8Array(4);
      new DataView(pidKey.buffer).setUint32(0, process.pid, true);
      obj.map('pid_filter').update(pidKey, new Uint8Array([1]));
      for (const p of obj.programs()) if (p.autoload) p.attach();
      let mine = 0;
      const reader = group.add(
        new RingReader({
          mapFd: obj.map('tcp_events').fd,
          size: 1 << 20,
          pollIntervalMs: 60_000,
          handler: (view, off) => {
            if (view.getUint8(off + 3) === 1 && view.getUint16(off + 70, true) === port && view.getUint32(off + 56, true) === process.pid) mine++;
          },
        }),
      );
      reader.start();
      // Let go of the previous test's ring: its fd number was just reused for this map, and a
      // stale readiness of the old file can be reported once more under the same fd (harmless: a
      // spurious wake-up only reads early).
      await new Promise((r) => setTimeout(r, 300));
      const baseline = reader.stats.wakeups;
      for (let i = 0; i < 3; i++) {
        await new Promise<void>((resolve, reject) => {
          const s = connect(port, '127.0.0.1', () => s.end());
          s.on('close', () => resolve());
          s.on('error', reject);
        });
      }
      await new Promise((r) => setTimeout(r, 200));
      expect(mine).toBe(0); // committed with BPF_RB_NO_WAKEUP: nobody woke us
      expect(reader.pending()).toBeGreaterThan(0);
      expect(reader.stats.wakeups).toBe(baseline);
      reader.consume(); // what the poll timer does
      expect(mine).toBe(3);
      expect(reader.pending()).toBe(0);
    } finally {
      group.close();
    }
  });

  it.runIf(bpf.ok)('reads records across the ring\'s wrap-around exactly (8 KiB ring, 300 connects)', async () => {
    ensureTracefs();
    const group = new CloseGroup();
    const obj = group.add(BpfObject.openFile(TCP_OBJECT));
    try {
      for (const p of obj.programs()) if (p.name.includes('fentry') || p.name.includes('kprobe')) p.autoload = false;
      obj.setRodata({ connect_hook: 3, sonde_wakeup_bytes: 0, filter_flags: 4 | 8 });
      obj.map('tcp_events').setMaxEntries(8192);
      obj.load();
      const pidKey = new Uint8Array(4);
      new DataView(pidKey.buffer).setUint32(0, process.pid, true);
      obj.map('pid_filter').update(pidKey, new Uint8Array([1]));
      for (const p of obj.programs()) if (p.autoload) p.attach();
      const counts = [0, 0, 0, 0, 0];
      let bad = 0;
      const reader = group.add(
        new RingReader({
          mapFd: obj.map('tcp_events').fd,
          size: 8192,
          pollIntervalMs: 10,
          handler: (view, off, len) => {
            const type = view.getUint8(off + 3);
            if (len !== 136 || view.getUint16(off, true) !== 0x53de || type < 1 || type > 4) bad++;
            else if (view.getUint16(off + 68, true) === port || view.getUint16(off + 70, true) === port) counts[type]!++;
          },
        }),
      );
      reader.start();
      for (let i = 0; i < 300; i++) {
        await new Promise<void>((resolve, reject) => {
          const s = connect(port, '127.0.0.1', () => s.end());
          s.on('close', () => resolve());
          s.on('error', reject);
        });
      }
      await new Promise((r) => setTimeout(r, 300));
      reader.consume();
      expect(bad).toBe(0);
      expect(new LostCounter(obj, ['state', 'accept', 'retransmit']).read(0)).toBe(0);
      // 300 x (connect + accept + close of each side) = 1200 records of 144 bytes through 8 KiB
      expect(counts.slice(1)).toEqual([300, 300, 600, 0]);
      expect(reader.stats.records * 144).toBeGreaterThan(20 * 8192);
    } finally {
      group.close();
    }
  });

  it.runIf(bpf.ok)('reports a missing object with a stable code and a hint', () => {
    try {
      BpfObject.openFile('/nonexistent/sonde.bpf.o');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(SondeError);
      expect((err as SondeError).code).toBe('SONDE_BPF_LOAD_FAILED');
      expect((err as SondeError).hint).toMatch(/build:bpf/);
    }
  });

  it.runIf(bpf.ok)('refuses to configure after load and to attach before load', () => {
    const obj = BpfObject.openFile(TCP_OBJECT);
    try {
      expect(() => obj.program('sonde_tcp_state').attach()).toThrow(/not loaded|opened, not loaded/);
      expect(() => obj.program('does_not_exist')).toThrow(SondeError);
    } finally {
      obj.close();
    }
  });
});
