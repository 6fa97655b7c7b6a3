// The ebpf receiver's TCP capture against the real kernel, driven in-process through its factory
// with a capturing consumer: exact connection counts, outcomes, attribution, durations and bytes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ebpfReceiverFactory } from '../../src/receivers/ebpf/factory.js';
import type { Receiver } from '../../src/component/types.js';
import { TcpCapture } from '../../src/receivers/ebpf/tcp/tcp-capture.js';
import { EbpfReceiver } from '../../src/receivers/ebpf/receiver.js';
import { freePort } from '../helpers/free-port.js';
import { requireBpf } from './bpf-available.js';
import { CapturingConsumer, histogramsOf, listenReplying, makeSettings, resourceOf, runConnectChild, sumOf, tcpOnlyConfig } from './harness.js';
import { pollUntil } from '../helpers/poll.js';

const OK = 200;
const REFUSED = 50;
const SEND = 1000; // bytes the child writes per connection
const REPLY = 3000; // bytes the server answers with

describe('ebpf receiver: TCP lifecycle (real kernel)', () => {
  const bpf = requireBpf();
  let receiver: Receiver;
  const consumer = new CapturingConsumer();
  // Per family: the listening port and a port nobody listens on, from this worker's slice
  // (test/helpers/free-port.ts), so no concurrently running file can start listening on the latter.
  const ports: Record<string, { ok: number; refused: number }> = {};
  // sonde.tcp.io has no port or family attribute: the listener (this process) accumulates the
  // server side of every family run so far, so its expected totals are kept across the runs.
  const serverSide = { received: 0, transmitted: 0 };

  beforeAll(async () => {
    if (!bpf.ok) return;
    for (const host of ['127.0.0.1', '::1']) ports[host] = { ok: await freePort(host), refused: await freePort(host) };
    // TCP only: HTTP capture of the host's unrelated traffic would compete for this event loop.
    // Scoped in the kernel to the test's ports, as a user scopes Sonde on a busy host: the parallel
    // file's connect storms then take neither ring space, socket-map entries nor series here.
    const cfg = tcpOnlyConfig(Object.values(ports).flatMap((p) => [p.ok, p.refused]));
    receiver = ebpfReceiverFactory.create(makeSettings(), cfg, { metrics: consumer });
    await receiver.start();
  });
  afterAll(async () => {
    await receiver?.shutdown();
  });

  for (const [family, host, type] of [
    ['IPv4', '127.0.0.1', 'ipv4'],
    ['IPv6', '::1', 'ipv6'],
  ] as const) {
    it.runIf(bpf.ok)(`counts ${OK} successful and ${REFUSED} refused connects over ${family}, attributed to the child, with the inbound side`, async () => {
      const { ok: port, refused: refusedPort } = ports[host]!;
      const server = await listenReplying(host, port, SEND, REPLY);
      try {
        const t0 = Date.now();
        const child = await runConnectChild({ host, okPort: port, closedPort: refusedPort, ok: OK, refused: REFUSED, send: SEND, expect: REPLY });
        const wallS = (Date.now() - t0) / 1000;
        expect(child).toMatchObject({ ok: OK, refused: REFUSED, errors: 0 });
        serverSide.received += OK * SEND;
        serverSide.transmitted += OK * REPLY;
        const serverIo = (direction: string) => sumOf(resourceOf(consumer.latest(), process.pid), 'sonde.tcp.io', { 'network.io.direction': direction });

        const outbound = (outcome: string, p: number) => ({ 'network.tcp.direction': 'outbound', 'sonde.tcp.outcome': outcome, 'server.port': p, 'network.type': type, 'server.address': host });
        const done = await pollUntil(() => {
          const rm = resourceOf(consumer.latest(), child.pid);
          return (
            sumOf(rm, 'sonde.tcp.connections', outbound('success', port)) >= OK &&
            sumOf(rm, 'sonde.tcp.connections', outbound('refused', refusedPort)) >= REFUSED &&
            sumOf(rm, 'sonde.tcp.io', { 'network.io.direction': 'receive' }) >= OK * REPLY &&
            sumOf(resourceOf(consumer.latest(), process.pid), 'sonde.tcp.connections', { 'network.tcp.direction': 'inbound', 'server.port': port }) >= OK &&
            serverIo('receive') >= serverSide.received &&
            serverIo('transmit') >= serverSide.transmitted
          );
        }, 20_000);
        const rms = consumer.latest();
        const rm = resourceOf(rms, child.pid);
        expect(done).toBe(true);
        expect(rm?.resource.attributes).toMatchObject({ 'process.executable.name': 'node', 'service.name': 'node', 'process.pid': child.pid });
        expect(sumOf(rm, 'sonde.tcp.connections', { ...outbound('success', port), 'process.executable.name': 'node' })).toBe(OK);
        expect(sumOf(rm, 'sonde.tcp.connections', { ...outbound('refused', refusedPort), 'process.executable.name': 'node' })).toBe(REFUSED);
        // nothing else from the child
        expect(sumOf(rm, 'sonde.tcp.connections')).toBe(OK + REFUSED);

        // inbound: the listener (this test process) accepted exactly the 200
        const me = resourceOf(rms, process.pid);
        expect(sumOf(me, 'sonde.tcp.connections', { 'network.tcp.direction': 'inbound', 'sonde.tcp.outcome': 'success', 'server.port': port, 'network.type': type })).toBe(OK);

        // handshake durations: positive, below the run's wall time
        const hs = histogramsOf(rm, 'sonde.tcp.connect.duration', outbound('success', port));
        expect(hs).toHaveLength(1);
        expect(hs[0]!.count).toBe(OK);
        expect(hs[0]!.min!).toBeGreaterThan(0);
        expect(hs[0]!.max!).toBeLessThan(wallS);
        const refusedHs = histogramsOf(rm, 'sonde.tcp.connect.duration', outbound('refused', refusedPort));
        expect(refusedHs[0]?.count).toBe(REFUSED);

        // closes: exact payload bytes each way, lifetimes recorded for every connection
        expect(sumOf(rm, 'sonde.tcp.io', { 'network.io.direction': 'transmit' })).toBe(OK * SEND);
        expect(sumOf(rm, 'sonde.tcp.io', { 'network.io.direction': 'receive' })).toBe(OK * REPLY);
        const lifetimes = histogramsOf(rm, 'sonde.tcp.connection.duration', { 'server.port': port, 'network.tcp.direction': 'outbound' });
        expect(lifetimes.reduce((a, p) => a + p.count, 0)).toBe(OK);
        expect(lifetimes[0]!.max!).toBeLessThan(wallS);
        // The server side saw the mirror image, exactly: the kernel counts payload only (bytes_sent
        // less bytes_retrans; bytes_received less the FIN's sequence number), so no SYN, FIN or
        // retransmitted byte is in it. Cumulative over the family runs (see serverSide).
        expect(sumOf(me, 'sonde.tcp.io', { 'network.io.direction': 'receive' })).toBe(serverSide.received);
        expect(sumOf(me, 'sonde.tcp.io', { 'network.io.direction': 'transmit' })).toBe(serverSide.transmitted);
        const inboundLifetimes = histogramsOf(me, 'sonde.tcp.connection.duration', { 'network.tcp.direction': 'inbound', 'server.port': port, 'network.type': type });
        expect(inboundLifetimes.reduce((a, p) => a + p.count, 0)).toBe(OK);
      } finally {
        await new Promise((r) => server.close(r));
      }
    });
  }

  it.runIf(bpf.ok)('emits cumulative sums and histograms with the conventions names and units', () => {
    const metrics = consumer.latest().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
    const byName = new Map(metrics.map((m) => [m.name, m]));
    expect(byName.get('sonde.tcp.connections')).toMatchObject({ type: 'sum', unit: '{connection}', isMonotonic: true, aggregationTemporality: 2 });
    expect(byName.get('sonde.tcp.connect.duration')).toMatchObject({ type: 'histogram', unit: 's', aggregationTemporality: 2 });
    expect(byName.get('sonde.tcp.connection.duration')).toMatchObject({ type: 'histogram', unit: 's' });
    expect(byName.get('sonde.tcp.io')).toMatchObject({ type: 'sum', unit: 'By', isMonotonic: true });
  });

  it.runIf(bpf.ok)('counts garbage records given to the decoder instead of throwing', () => {
    const capture = (receiver as EbpfReceiver).running.find((f) => f.name === 'tcp') as TcpCapture;
    const before = capture.stats.rejected;
    const junk = new DataView(new ArrayBuffer(256));
    for (let i = 0; i < 256; i++) junk.setUint8(i, (i * 37 + 11) & 0xff);
    expect(() => capture.onRecord(junk, 0, 256)).not.toThrow();
    expect(() => capture.onRecord(junk, 0, 3)).not.toThrow();
    junk.setUint16(0, 0x53de, true);
    junk.setUint8(2, 99); // future schema version
    expect(() => capture.onRecord(junk, 0, 136)).not.toThrow();
    expect(capture.stats.rejected - before).toBe(3);
  });
});
