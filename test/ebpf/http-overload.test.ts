// Overload on the real kernel: when the HTTP capture cannot report an exchange, it counts it.
// A burst of N exchanges, all in flight at once (test/ebpf/fixtures/http-flood.mjs), is seen from
// both ends: 2N exchange ends. Each one is either a span or counted in sonde_ebpf_events_lost_total:
// program="http_unpaired" when the per-connection state was evicted (http.max_connections far below
// the connections in flight), program="http" when the ring buffer had no room. So
//   spans + lost{http} + lost{http_unpaired} == 2N, exactly,
// and the overloaded mechanism's counter must be the one that moved.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Consumer } from '../../src/component/types.js';
import { parseComponentId } from '../../src/component/id.js';
import type { TelemetryBatch, TracesBatch } from '../../src/pdata/types.js';
import { SpanKind } from '../../src/pdata/types.js';
import { ebpfReceiverFactory } from '../../src/receivers/ebpf/factory.js';
import type { EbpfConfig } from '../../src/receivers/ebpf/config.js';
import type { EbpfReceiver } from '../../src/receivers/ebpf/receiver.js';
import type { HttpFeature } from '../../src/receivers/ebpf/http/http-feature.js';
import { createSilentLogger } from '../../src/telemetry/logger.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import { freePort } from '../helpers/free-port.js';
import { promValue } from '../helpers/sonde-process.js';
import { requireBpf } from './bpf-available.js';

const N = 256; // connections in flight at once: 2N exchange ends

function flood(port: number): Promise<string> {
  const script = fileURLToPath(new URL('./fixtures/http-flood.mjs', import.meta.url));
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [script, String(port), String(N)], { timeout: 40_000 }, (e, out, err) =>
      e ? reject(new Error(`flood failed: ${out} ${err || e.message}`)) : resolve(out.trim()),
    ),
  );
}

interface Outcome {
  server: number;
  client: number;
  ringLost: number;
  unpaired: number;
  decodeErrors: number;
  refused: number;
  recordsRead: number;
}

/** Runs the flood under a receiver scoped to its port with `overrides`, and tallies every outcome. */
async function runFlood(overrides: Partial<EbpfConfig>, http: Partial<EbpfConfig['http']> = {}): Promise<Outcome> {
  const port = await freePort();
  const telemetry = new SelfTelemetry({ processMetrics: false });
  const traces: TracesBatch[] = [];
  const consumer: Consumer = { mutatesData: false, consume: async (b: TelemetryBatch) => void (b.signal === 'traces' && traces.push(b)) };
  const defaults = ebpfReceiverFactory.createDefaultConfig();
  const config: EbpfConfig = {
    ...defaults,
    collection_interval: '1h',
    tcp: { enabled: false },
    // Scoped to the flood's port: the host's other traffic cannot add to (or take from) the counts.
    include: { ...defaults.include, ports: [port] },
    ...overrides,
    http: { ...defaults.http, ...http },
  };
  const receiver = ebpfReceiverFactory.create(
    { id: parseComponentId('ebpf/overload')!, logger: createSilentLogger(), telemetry, configDir: '/tmp', backpressure: { shouldRefuse: () => false } },
    config,
    { traces: consumer },
  ) as EbpfReceiver;
  await receiver.start();
  let feature: HttpFeature | undefined;
  try {
    feature = receiver.running.find((f) => f.name === 'http') as HttpFeature;
    expect(await flood(port)).toBe(`${N} ${N}`);
  } finally {
    await receiver.shutdown(); // drains the ring, reads the kernel's counters, ships the last spans
  }
  const text = await telemetry.render();
  const value = (name: string, labels: Record<string, string>) => {
    const v = promValue(text, name, labels);
    return Number.isNaN(v) ? 0 : v;
  };
  const spans = traces
    .flatMap((b) => b.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)))
    .filter((s) => s.attributes['server.port'] === port && String(s.attributes['url.path']).startsWith('/flood/'));
  return {
    server: spans.filter((s) => s.kind === SpanKind.SERVER).length,
    client: spans.filter((s) => s.kind === SpanKind.CLIENT).length,
    ringLost: value('sonde_ebpf_events_lost_total', { program: 'http' }),
    unpaired: value('sonde_ebpf_events_lost_total', { program: 'http_unpaired' }),
    decodeErrors: feature?.pipeline.stats.decodeErrors ?? -1,
    refused: value('sonde_receiver_refused_items_total', { receiver: 'ebpf/overload' }),
    recordsRead: value('sonde_ebpf_events_total', { program: 'http' }),
  };
}

describe('HTTP capture under overload counts what it cannot report (real kernel)', () => {
  const bpf = requireBpf();

  it.runIf(bpf.ok)('connection state evicted (max_connections 64, 2N pending): every missing exchange is counted as http_unpaired', async () => {
    const o = await runFlood({}, { max_connections: 64 });
    expect(o.decodeErrors).toBe(0);
    expect(o.refused).toBe(0);
    expect(o.recordsRead).toBe(o.server + o.client);
    expect(o.server + o.client + o.ringLost + o.unpaired).toBe(2 * N);
    // at most 64 requests can be remembered at once: most of the 2N were evicted, and counted
    expect(o.server + o.client).toBeLessThanOrEqual(64);
    expect(o.unpaired).toBeGreaterThanOrEqual(2 * N - 64);
  }, 60_000);

  it.runIf(bpf.ok)('ring buffer full (4 KiB, no wake-up): every missing exchange is counted as lost{program="http"}', async () => {
    // 4 KiB holds about 24 of these records (~170 bytes: 112 + the short request head); the
    // 32 KiB wake-up threshold is never reached, so the reader only looks every 5 s: a burst of
    // 2N records overflows it.
    const o = await runFlood({ ring_buffer_size: '4KiB', poll_interval: '5s' });
    expect(o.decodeErrors).toBe(0);
    expect(o.refused).toBe(0);
    expect(o.unpaired).toBe(0); // state has room (default max_connections): nothing evicted
    expect(o.recordsRead).toBe(o.server + o.client);
    expect(o.server + o.client + o.ringLost).toBe(2 * N);
    expect(o.ringLost).toBeGreaterThan(0);
  }, 60_000);
});
