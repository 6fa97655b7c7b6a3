// Socket-map eviction is counted, never silent: with tcp.max_connections = 16 and N connects in
// flight at once (a private network namespace, a listener that never accepts, tcp_syn_retries=1 so
// they time out in about 3 s), the kernel forgets the owner of most of them. Every connect must then
// be either reported (sonde.tcp.connections, any outcome) or counted in
// sonde_ebpf_events_lost_total{program="tcp_state_evicted"}: reported + evicted == N, exactly.
import { describe, expect, it } from 'vitest';
import { ebpfReceiverFactory } from '../../src/receivers/ebpf/factory.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import { pollUntil } from '../helpers/poll.js';
import { promValue } from '../helpers/sonde-process.js';
import { requireBpf } from './bpf-available.js';
import { CapturingConsumer, connectBurstInNetns, makeSettings, resourceOf, sumOf, tcpOnlyConfig } from './harness.js';

const PORT = 9998; // inside the private namespace
const N = 48; // connects in flight at once, three times the socket map

describe('ebpf receiver: TCP socket map eviction is counted (private netns, real kernel)', () => {
  const bpf = requireBpf();

  it.runIf(bpf.ok)('reported connects + tcp_state_evicted == connects made, with max_connections 16', async () => {
    const telemetry = new SelfTelemetry({ processMetrics: false });
    const consumer = new CapturingConsumer();
    // scoped to PORT as a user would: host traffic is not counted
    const cfg = tcpOnlyConfig([PORT], { tcp: { enabled: true, max_connections: 16 } });
    const receiver = ebpfReceiverFactory.create(makeSettings(telemetry, 'eviction'), cfg, { metrics: consumer });
    await receiver.start();
    const evicted = async (): Promise<number> => {
      const v = promValue(await telemetry.render(), 'sonde_ebpf_events_lost_total', { program: 'tcp_state_evicted' });
      return Number.isNaN(v) ? 0 : v;
    };
    try {
      const child = connectBurstInNetns(PORT, N, 'sonde-eviction-');
      expect(child.ok + child.timeout + child.other).toBe(N);

      const reported = (): number =>
        sumOf(resourceOf(consumer.latest(), child.pid), 'sonde.tcp.connections', { 'network.tcp.direction': 'outbound', 'server.port': PORT });
      // bounded wait (16 s: the former 75 x 200 ms plus the reads) until every connect is accounted for
      await pollUntil(async () => reported() + (await evicted()) >= N, 16_000, 200);
      await new Promise((r) => setTimeout(r, 1200)); // one more tick: nothing is counted twice
      const lost = await evicted();
      expect(lost).toBeGreaterThan(0); // the map really overflowed
      expect(reported() + lost).toBe(N);
    } finally {
      await receiver.shutdown();
    }
  });
});
