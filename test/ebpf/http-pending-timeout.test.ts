// A request whose response never comes, on the real kernel (bpf/http.bpf.c start_request):
// past `http.pending_timeout` the next request on the connection replaces it, the replaced one is
// counted in sonde_ebpf_events_lost_total{program="http_unpaired"}, and the new request pairs
// with its own response. Within the timeout the next request is a pipelined one: counted as
// unpaired when seen, and the answer is taken for the pending request's (docs/metrics-and-spans.md,
// Limits). A raw server (fixtures/http-hanging-server.py) never answers /hang; a raw client
// (fixtures/http-pending-client.py) drives one connection per phase. Both ends are captured
// (include.ports = the server's port), so every count below is per side, times two.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Span } from '../../src/pdata/types.js';
import { SpanKind } from '../../src/pdata/types.js';
import { ebpfReceiverFactory } from '../../src/receivers/ebpf/factory.js';
import type { EbpfReceiver } from '../../src/receivers/ebpf/receiver.js';
import type { HttpFeature } from '../../src/receivers/ebpf/http/http-feature.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import { promValue } from '../helpers/sonde-process.js';
import { requireBpf } from './bpf-available.js';
import { CapturingConsumer, makeSettings } from './harness.js';
import { startHangingServer, type RunningServer } from './http-servers.js';

const PENDING_TIMEOUT = '1s';
/** The slow client's pause after /hang: longer than PENDING_TIMEOUT. */
const GAP_SECONDS = 1.5;

interface ClientRun {
  pid: number;
  statuses: number[];
  port: number;
  elapsed_ns: Record<string, number>;
}

function runClient(port: number, mode: 'slow' | 'fast'): Promise<ClientRun> {
  const script = fileURLToPath(new URL('./fixtures/http-pending-client.py', import.meta.url));
  const args = [script, String(port), mode, ...(mode === 'slow' ? [String(GAP_SECONDS)] : [])];
  return new Promise((resolve, reject) => {
    const child = execFile('python3', args, { timeout: 20_000 }, (e, out, err) =>
      e ? reject(new Error(`pending client failed: ${err || e.message}`)) : resolve({ pid: child.pid!, ...(JSON.parse(out) as Omit<ClientRun, 'pid'>) }),
    );
  });
}

const ns = (s: Span) => Number(s.endTimeUnixNano - s.startTimeUnixNano);

describe('HTTP capture: a request left without response past pending_timeout (real kernel)', () => {
  const bpf = requireBpf();
  const consumer = new CapturingConsumer();
  const traces = consumer.traces;
  let telemetry: SelfTelemetry;
  let server: RunningServer | undefined;
  let receiver: EbpfReceiver | undefined;
  let feature: HttpFeature | undefined;
  let slow: ClientRun | undefined;
  let fast: ClientRun | undefined;
  let unpairedAfterSlow = NaN;
  let selfMetrics = '';

  const lost = (text: string, program: string) => promValue(text, 'sonde_ebpf_events_lost_total', { program });

  beforeAll(async () => {
    if (!bpf.ok) return;
    server = await startHangingServer();
    telemetry = new SelfTelemetry({ processMetrics: false });
    const defaults = ebpfReceiverFactory.createDefaultConfig();
    receiver = ebpfReceiverFactory.create(
      makeSettings(telemetry, 'pending'),
      {
        ...defaults,
        collection_interval: '1h',
        tcp: { enabled: false },
        include: { ...defaults.include, ports: [server.port] },
        http: { ...defaults.http, pending_timeout: PENDING_TIMEOUT },
      },
      { traces: consumer },
    ) as EbpfReceiver;
    await receiver.start();
    feature = receiver.running.find((f) => f.name === 'http') as HttpFeature;
    try {
      slow = await runClient(server.port, 'slow');
      // The kernel counts synchronously in the syscalls: once the client has exited, the slow
      // phase's losses are all in the kernel's counter.
      feature.flushStats();
      unpairedAfterSlow = lost(await telemetry.render(), 'http_unpaired');
      fast = await runClient(server.port, 'fast');
    } finally {
      await receiver.shutdown(); // drains the ring, reads the kernel's counters, ships the last spans
    }
    selfMetrics = await telemetry.render();
  }, 60_000);

  afterAll(async () => {
    await receiver?.shutdown();
    await server?.stop();
  });

  const spans = (kind: SpanKind, pid: number) =>
    traces
      .flatMap((b) => b.resourceSpans.filter((rs) => rs.resource.attributes['process.pid'] === pid).flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)))
      .filter((s) => s.kind === kind && s.attributes['server.port'] === server!.port);
  const byPath = (list: Span[], path: string) => {
    const found = list.filter((s) => s.attributes['url.path'] === path);
    expect(found, path).toHaveLength(1);
    return found[0]!;
  };

  it.runIf(bpf.ok)('the client got an answer to every request but /hang', () => {
    expect(slow!.statuses).toEqual([200, 200]);
    expect(fast!.statuses).toEqual([200]);
  });

  it.runIf(bpf.ok)('a request replaced after pending_timeout is counted in http_unpaired, once per side', () => {
    expect(unpairedAfterSlow).toBe(2);
    // then the pipelined /after/3, within the timeout: counted when seen, once per side
    expect(lost(selfMetrics, 'http_unpaired')).toBe(4);
    for (const program of ['http', 'http_decoder']) expect(lost(selfMetrics, program), program).toBe(0);
    expect(feature!.pipeline.stats.decodeErrors).toBe(0);
  });

  it.runIf(bpf.ok)('the next request on the connection pairs with its own response, on both sides', () => {
    const client = spans(SpanKind.CLIENT, slow!.pid);
    const serverSpans = spans(SpanKind.SERVER, server!.pid).filter((s) => s.attributes['network.peer.port'] === slow!.port);
    expect(client.map((s) => s.attributes['url.path']).sort()).toEqual(['/after/1', '/after/2']);
    expect(serverSpans.map((s) => s.attributes['url.path']).sort()).toEqual(['/after/1', '/after/2']);
    for (const path of ['/after/1', '/after/2']) {
      const c = byPath(client, path);
      const s = byPath(serverSpans, path);
      expect(c.attributes['http.response.status_code']).toBe(200);
      expect(s.attributes['http.response.status_code']).toBe(200);
      expect(c.attributes['network.peer.port']).toBe(server!.port);
      expect(s.attributes['network.peer.address']).toBe('127.0.0.1');
      // Timed from this request, not from /hang (1.5 s earlier): inside what the client measured
      // around its own write and read.
      expect(ns(s)).toBeGreaterThan(0);
      expect(ns(s)).toBeLessThanOrEqual(ns(c));
      expect(ns(c), path).toBeLessThanOrEqual(slow!.elapsed_ns[path]!);
    }
  });

  it.runIf(bpf.ok)('within pending_timeout the pending request is kept: the answer is taken for it', () => {
    const client = spans(SpanKind.CLIENT, fast!.pid);
    const serverSpans = spans(SpanKind.SERVER, server!.pid).filter((s) => s.attributes['network.peer.port'] === fast!.port);
    expect(client.map((s) => s.attributes['url.path'])).toEqual(['/hang']);
    expect(serverSpans.map((s) => s.attributes['url.path'])).toEqual(['/hang']);
    expect(ns(serverSpans[0]!)).toBeGreaterThan(0);
    expect(ns(serverSpans[0]!)).toBeLessThanOrEqual(ns(client[0]!));
    expect(ns(client[0]!)).toBeLessThanOrEqual(fast!.elapsed_ns['/after/3']!);
    // nothing else was reported: every record read is one of these six spans
    const all = traces.flatMap((b) => b.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));
    expect(all).toHaveLength(6);
    expect(promValue(selfMetrics, 'sonde_ebpf_events_total', { program: 'http' })).toBe(6);
  });
});
