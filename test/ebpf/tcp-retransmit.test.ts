// Data retransmits on established connections, in a private network namespace (its own loopback,
// so nothing on the host is touched): an nftables rule drops every third request segment that
// reaches the listener, the client's TCP retransmits them, and sonde.tcp.retransmits counts them
// for the client process and the server port. Payload bytes stay exact despite the resends.
// The same client also connects to a second port the receiver's include.ports leaves out, where
// SYNs are dropped too: none of its retransmits (SYN or data) may show.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ebpfReceiverFactory } from '../../src/receivers/ebpf/factory.js';
import type { ResourceMetrics } from '../../src/pdata/types.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import { freePort } from '../helpers/free-port.js';
import { pollValue, waitUntil } from '../helpers/poll.js';
import { promValue } from '../helpers/sonde-process.js';
import { requireBpf } from './bpf-available.js';
import { CapturingConsumer, makeSettings, resourceOf, runConnectChild, sumOf, tcpOnlyConfig } from './harness.js';

const CONNECTS = 12;
const SEND = 1000; // one request segment per connection (loopback MTU is 64 KiB)
const REPLY = 3000;

// The listener, run inside the namespace on each port given: answers REPLY bytes once SEND have arrived.
const SERVER = `
import net from 'node:net';
const [send, reply, ...ports] = process.argv.slice(2).map(Number);
const answer = Buffer.alloc(reply, 121);
let listening = 0;
for (const port of ports) {
  const server = net.createServer((s) => {
    let got = 0;
    s.on('error', () => {});
    s.on('data', (d) => { got += d.length; if (got >= send) s.write(answer); });
  });
  server.listen(port, '127.0.0.1', () => { if (++listening === ports.length) process.stdout.write('ready\\n'); });
}
`;

// Segments to a server port longer than 200 bytes (requests: a SYN, pure ACK or FIN is 52 to 60),
// every third of them from the first on (a counter per rule), so at least one is always dropped;
// and on the left-out port every fourth SYN as well. Dropped on input, after the sender's transmit
// succeeded: the sender sees a loss and retransmits.
const lossRules = (port: number, leftOut: number): string => `table inet sonde_loss {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport ${port} meta length > 200 numgen inc mod 3 == 0 counter drop
    tcp dport ${leftOut} meta length > 200 numgen inc mod 3 == 0 counter drop
    tcp dport ${leftOut} tcp flags & (syn | ack) == syn numgen inc mod 4 == 0 counter drop
  }
}
`;

function sh(ns: string, ...argv: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8', timeout: 10_000 });
}

describe('ebpf receiver: data retransmits (private netns with nftables loss, real kernel)', () => {
  const bpf = requireBpf();

  it.runIf(bpf.ok)('counts the retransmitted requests for the client process and the server port', async () => {
    const port = await freePort(); // only a number inside the namespace, but unique to this file for the port filter
    const leftOut = await freePort();
    const ns = `sonde-retx-${process.pid}`;
    const dir = mkdtempSync(join(tmpdir(), 'sonde-retx-'));
    const consumer = new CapturingConsumer();
    // TCP only, scoped in the kernel to the test's port (see tcp-timeout.test.ts).
    const cfg = tcpOnlyConfig([port]);
    const telemetry = new SelfTelemetry({ processMetrics: false });
    const receiver = ebpfReceiverFactory.create(makeSettings(telemetry, 'retransmit'), cfg, { metrics: consumer });
    let server: ChildProcess | undefined;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      await receiver.start();
      sh(ns, 'ip', 'link', 'set', 'lo', 'up');
      execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: lossRules(port, leftOut), timeout: 10_000 });

      writeFileSync(join(dir, 'server.mjs'), SERVER);
      // `ip netns exec` execs the command: the spawned pid is the listener's
      server = spawn('ip', ['netns', 'exec', ns, process.execPath, join(dir, 'server.mjs'), String(SEND), String(REPLY), String(port), String(leftOut)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let serverOut = '';
      server.stdout!.on('data', (d: Buffer) => (serverOut += d.toString()));
      await waitUntil('the listener in the namespace', () => serverOut.includes('ready') || server!.exitCode !== null, 10_000, 20);
      expect(serverOut).toContain('ready');
      const serverPid = server.pid!;

      const child = await runConnectChild({ host: '127.0.0.1', okPort: [port, leftOut], closedPort: port, ok: CONNECTS, refused: 0, send: SEND, expect: REPLY, concurrency: 3, prefix: ['ip', 'netns', 'exec', ns] });
      expect(child).toMatchObject({ ok: 2 * CONNECTS, refused: 0, errors: 0 });
      const [dropped, droppedLeftOut, droppedSyns] = [...sh(ns, 'nft', 'list', 'ruleset').matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
      expect(dropped).toBeGreaterThanOrEqual(1);
      expect(droppedLeftOut).toBeGreaterThanOrEqual(1); // the left-out port saw losses, SYN and data alike
      expect(droppedSyns).toBeGreaterThanOrEqual(1);

      const retransmits = (rms: ResourceMetrics[]) => sumOf(resourceOf(rms, child.pid), 'sonde.tcp.retransmits', { 'server.port': port, 'server.address': '127.0.0.1' });
      const io = (rms: ResourceMetrics[], pid: number, direction: string) => sumOf(resourceOf(rms, pid), 'sonde.tcp.io', { 'network.io.direction': direction });
      const batchesAtExit = consumer.batches.length;
      // One snapshot (the client's series are dropped a few ticks after it exits): polled, bounded.
      const rms = await pollValue(
        () => consumer.latest(),
        (r) => retransmits(r) >= dropped && io(r, child.pid, 'transmit') >= CONNECTS * SEND && io(r, serverPid, 'receive') >= CONNECTS * SEND && io(r, serverPid, 'transmit') >= CONNECTS * REPLY,
        15_000,
      );
      const client = resourceOf(rms, child.pid);
      const text = await telemetry.render();
      const lost = Object.fromEntries(
        ['tcp_retransmit', 'tcp_retransmit_missed', 'tcp_state', 'tcp_decoder'].map((p) => [p, promValue(text, 'sonde_ebpf_events_lost_total', { program: p })]),
      );
      if (process.env.SONDE_TEST_VERBOSE) console.log(JSON.stringify({ dropped, droppedLeftOut, droppedSyns, retransmits: retransmits(rms), serverRetransmits: sumOf(resourceOf(rms, serverPid), 'sonde.tcp.retransmits'), lost }));
      // Every dropped request was sent again, by the client, to the server's port: at least one
      // retransmit each (more only if a timer fired spuriously on a loaded host).
      expect(retransmits(rms), `dropped ${dropped}, lost ${JSON.stringify(lost)}`).toBeGreaterThanOrEqual(dropped);
      expect(client?.resource.attributes).toMatchObject({ 'process.pid': child.pid, 'process.executable.name': 'node' });
      expect(sumOf(client, 'sonde.tcp.retransmits')).toBe(retransmits(rms)); // none under another port or address
      expect(sumOf(client, 'sonde.tcp.connections', { 'network.tcp.direction': 'outbound', 'sonde.tcp.outcome': 'success', 'server.port': port })).toBe(CONNECTS);
      // Payload bytes exclude the resent ones (bytes_sent less bytes_retrans): exact on both sides.
      expect(io(rms, child.pid, 'transmit')).toBe(CONNECTS * SEND);
      expect(io(rms, child.pid, 'receive')).toBe(CONNECTS * REPLY);
      expect(io(rms, serverPid, 'receive')).toBe(CONNECTS * SEND);
      expect(io(rms, serverPid, 'transmit')).toBe(CONNECTS * REPLY);
      expect(sumOf(resourceOf(rms, serverPid), 'sonde.tcp.connections', { 'network.tcp.direction': 'inbound', 'server.port': port })).toBe(CONNECTS);
      // The left-out port shows in no batch: not its connections, not its SYN or data retransmits
      // (the bytes above are the included port's alone). The client has exited, so the kernel has
      // emitted everything; each collection reads the ring first, so two more collections have
      // seen it all (an event of the client's makes it appear again in the next batch).
      await waitUntil('two collections after the client exited', () => consumer.batches.length >= batchesAtExit + 2, 10_000);
      for (const batch of consumer.batches)
        for (const rm of batch.resourceMetrics)
          for (const metric of ['sonde.tcp.connections', 'sonde.tcp.retransmits']) expect(sumOf(rm, metric, { 'server.port': leftOut }), metric).toBe(0);
    } finally {
      server?.kill('SIGKILL');
      await receiver.shutdown();
      execFileSync('ip', ['netns', 'del', ns]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
