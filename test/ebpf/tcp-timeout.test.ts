// Connect timeouts and SYN retransmits, in a private network namespace (its own loopback and
// tcp_syn_retries=1, so nothing on the host is touched): a listener that never accepts fills its
// queue, later SYNs are dropped, the client retransmits them and gives up with ETIMEDOUT.
import { describe, expect, it } from 'vitest';
import { ebpfReceiverFactory } from '../../src/receivers/ebpf/factory.js';
import type { EbpfReceiver } from '../../src/receivers/ebpf/receiver.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import { promValue } from '../helpers/sonde-process.js';
import { requireBpf } from './bpf-available.js';
import { CapturingConsumer, connectBurstInNetns, makeSettings, resourceOf, sumOf, tcpOnlyConfig } from './harness.js';
import { pollUntil } from '../helpers/poll.js';

const PORT = 9999; // inside the private namespace

describe('ebpf receiver: connect timeouts and retransmits (private netns, real kernel)', () => {
  const bpf = requireBpf();

  it.runIf(bpf.ok)('reports outcome timeout and counts the SYN retransmits, attributed to the client', async () => {
    const consumer = new CapturingConsumer();
    // TCP only: HTTP capture of the host's unrelated traffic would compete for this event loop.
    // Scoped in the kernel to the test's port, as a user scopes Sonde on a busy host: the host's
    // own connections then take neither ring space nor event-loop time.
    const cfg = tcpOnlyConfig([PORT]);
    const telemetry = new SelfTelemetry({ processMetrics: false });
    const receiver = ebpfReceiverFactory.create(makeSettings(telemetry, 'timeout'), cfg, { metrics: consumer });
    await receiver.start();
    try {
      // The fix for connect outcomes silently skipped on busy hosts: state changes come from the
      // raw tracepoint, which another tool's BPF program cannot block (see docs/metrics-and-spans.md).
      expect((receiver as EbpfReceiver).running.find((f) => f.name === 'tcp')).toMatchObject({ stateAttach: 'raw_tracepoint' });
      const child = connectBurstInNetns(PORT, 6, 'sonde-timeout-');
      expect(child.timeout).toBeGreaterThan(0);
      expect(child.ok + child.timeout + child.other).toBe(6);

      const at = (outcome: string) => ({ 'network.tcp.direction': 'outbound', 'sonde.tcp.outcome': outcome, 'server.port': PORT, 'server.address': '127.0.0.1' });
      await pollUntil(() => sumOf(resourceOf(consumer.latest(), child.pid), 'sonde.tcp.connections', at('timeout')) >= child.timeout, 15_000);
      const rm = resourceOf(consumer.latest(), child.pid);
      // Anything the kernel could not report is counted; show it when the exact count fails.
      const text = await telemetry.render();
      const lost = Object.fromEntries(
        ['tcp_state', 'tcp_state_evicted', 'tcp_state_missed', 'tcp_retransmit_missed', 'tcp_decoder'].map((p) => [p, promValue(text, 'sonde_ebpf_events_lost_total', { program: p })]),
      );
      expect(sumOf(rm, 'sonde.tcp.connections', at('timeout')), `lost: ${JSON.stringify(lost)}`).toBe(child.timeout);
      expect(sumOf(rm, 'sonde.tcp.connections', at('success'))).toBe(child.ok);
      // every timed-out connect retransmitted its SYN at least once (tcp_syn_retries=1)
      expect(sumOf(rm, 'sonde.tcp.retransmits', { 'server.port': PORT, 'server.address': '127.0.0.1' })).toBeGreaterThanOrEqual(child.timeout);
    } finally {
      await receiver.shutdown();
    }
  });
});
