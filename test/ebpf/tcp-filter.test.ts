// In-kernel filtering: include ports, exclude pids/processes; the receiver sees only what passes.
import { createServer, type Server } from 'node:net';
import { execFileSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ebpfReceiverFactory } from '../../src/receivers/ebpf/factory.js';
import type { EbpfConfig } from '../../src/receivers/ebpf/config.js';
import type { EbpfReceiver } from '../../src/receivers/ebpf/receiver.js';
import type { TcpCapture } from '../../src/receivers/ebpf/tcp/tcp-capture.js';
import { requireBpf } from './bpf-available.js';
import { CapturingConsumer, makeSettings, resourceOf, runConnectChild, sumOf } from './harness.js';
import { pollUntil } from '../helpers/poll.js';

async function listen(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => {
    s.on('error', () => {});
    s.on('data', () => s.end('ok'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

describe('ebpf receiver: in-kernel filters (real kernel)', () => {
  const bpf = requireBpf();

  it.runIf(bpf.ok)('captures only included ports and drops excluded processes in the kernel', async () => {
    const a = await listen();
    const b = await listen();
    const consumer = new CapturingConsumer();
    const cfg: EbpfConfig = {
      ...ebpfReceiverFactory.createDefaultConfig(),
      collection_interval: '1s',
      include: { ports: [a.port], processes: [], pids: [] },
      exclude: { ports: [], processes: [], pids: [process.pid] }, // not this test process (the listener)
    };
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({ write(chunk, _enc, cb) { lines.push(JSON.parse(String(chunk))); cb(); } });
    const settings = { ...makeSettings(undefined, 'filter'), logger: pino({ level: 'info' }, sink) };
    const receiver = ebpfReceiverFactory.create(settings, cfg, { metrics: consumer }) as EbpfReceiver;
    await receiver.start();
    try {
      const toA = await runConnectChild({ host: '127.0.0.1', okPort: a.port, closedPort: b.port, ok: 20, refused: 0, send: 10, expect: 2 });
      const toB = await runConnectChild({ host: '127.0.0.1', okPort: b.port, closedPort: a.port, ok: 15, refused: 0, send: 10, expect: 2 });
      await pollUntil(() => sumOf(resourceOf(consumer.latest(), toA.pid), 'sonde.tcp.connections') >= 20, 15_000);
      await new Promise((r) => setTimeout(r, 1200)); // one more tick: anything that passed the filter has arrived
      const rms = consumer.latest();
      expect(sumOf(resourceOf(rms, toA.pid), 'sonde.tcp.connections', { 'server.port': a.port, 'sonde.tcp.outcome': 'success' })).toBe(20);
      expect(resourceOf(rms, toB.pid)).toBeUndefined(); // port b is not included
      expect(resourceOf(rms, process.pid)).toBeUndefined(); // inbound side: this pid is excluded
      for (const rm of rms) {
        expect(sumOf(rm, 'sonde.tcp.connections', { 'server.port': b.port })).toBe(0);
      }
      const capture = receiver.running[0] as TcpCapture;
      expect(['fentry', 'kprobe', 'tracepoint']).toContain(capture.hook);
      expect(capture.attempts.at(-1)).toMatchObject({ hook: capture.hook, ok: true });
      // the ladder's choice is logged once, with why earlier rungs were refused; probing is not shouted about
      const chosen = lines.filter((l) => String(l.msg).startsWith('eBPF TCP capture: connect hook'));
      expect(chosen).toHaveLength(1);
      expect(chosen[0]).toMatchObject({ level: 30, hook: capture.hook });
      expect((chosen[0]!.ladder as string[]).length).toBe(capture.attempts.length);
      expect(lines.filter((l) => (l.level as number) >= 40 && l.libbpf)).toEqual([]);
      // shutdown detaches and unloads everything it loaded
      const ids = capture.programIds();
      expect(ids.length).toBe(capture.hook === 'tracepoint' ? 4 : 6); // state, retransmit, accept4, accept (+ v4/v6 connect hooks)
      const loaded = (id: number): boolean => {
        try {
          execFileSync('bpftool', ['prog', 'show', 'id', String(id)], { stdio: 'ignore' });
          return true;
        } catch {
          return false;
        }
      };
      expect(ids.every(loaded)).toBe(true);
      await receiver.shutdown();
      expect(receiver.running).toHaveLength(0);
      expect(await pollUntil(() => !ids.some(loaded), 10_000)).toBe(true); // bounded wait: unloading is asynchronous (RCU)
    } finally {
      await receiver.shutdown();
      await receiver.shutdown();
      await new Promise((r) => a.server.close(r));
      await new Promise((r) => b.server.close(r));
    }
  });
});
