// In-kernel filters and route options of the HTTP capture, on the real kernel: only the included
// server port and never the excluded process are captured; configured route patterns win over
// the heuristic and the route cap overflows into "_OTHER".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consumer } from '../../src/component/types.js';
import { parseComponentId } from '../../src/component/id.js';
import type { TelemetryBatch, TracesBatch } from '../../src/pdata/types.js';
import { SpanKind } from '../../src/pdata/types.js';
import { ebpfReceiverFactory } from '../../src/receivers/ebpf/factory.js';
import type { EbpfReceiver } from '../../src/receivers/ebpf/receiver.js';
import { createSilentLogger } from '../../src/telemetry/logger.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import { requireBpf } from './bpf-available.js';
import { curl, startNodeServer, startPythonServer, type RunningServer } from './http-servers.js';

const LATE_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

describe('HTTP capture filters (real kernel)', () => {
  const bpf = requireBpf();
  const traces: TracesBatch[] = [];
  const telemetry = new SelfTelemetry({ processMetrics: false });
  let receiver: EbpfReceiver | undefined;
  let node: RunningServer | undefined;
  let python: RunningServer | undefined;

  beforeAll(async () => {
    if (!bpf.ok) return;
    node = await startNodeServer();
    python = await startPythonServer();
    const defaults = ebpfReceiverFactory.createDefaultConfig();
    const config = {
      ...defaults,
      collection_interval: '1h',
      tcp: { enabled: false },
      include: { ports: [node.port], processes: [], pids: [] },
      exclude: { ports: [], processes: ['curl'], pids: [] },
      http: { ...defaults.http, routes: ['/items/{sku}', '/files/*'], max_routes: 4, max_connections: 1024 },
    };
    const consumer: Consumer = { mutatesData: false, consume: async (b: TelemetryBatch) => void (b.signal === 'traces' && traces.push(b)) };
    receiver = ebpfReceiverFactory.create(
      { id: parseComponentId('ebpf/filters')!, logger: createSilentLogger(), telemetry, configDir: '/tmp', backpressure: { shouldRefuse: () => false } },
      config,
      { traces: consumer },
    ) as EbpfReceiver;
    await receiver.start();
    const paths = ['/items/abc', '/items/def', '/files/a/b.txt', '/x1', '/x2', '/x3', '/x4'];
    await curl([], paths.map((p) => `http://127.0.0.1:${node!.port}${p}`));
    await curl([], paths.map((p) => `http://127.0.0.1:${python!.port}${p}`));
    // heads longer than the 512 bytes the kernel copies: a long query, and a traceparent after a long header
    await curl([], [`http://127.0.0.1:${node.port}/files/long?q=${'s'.repeat(700)}`]);
    await curl(['-H', `X-Pad: ${'p'.repeat(600)}`, '-H', `traceparent: 00-${LATE_TRACE}-00f067aa0ba902b7-01`], [`http://127.0.0.1:${node.port}/files/late`]);
    await receiver.shutdown();
  }, 60_000);

  afterAll(async () => {
    await receiver?.shutdown();
    await node?.stop();
    await python?.stop();
  });

  it.runIf(bpf.ok)('captures only the included port, never the excluded process', () => {
    const spans = traces.flatMap((b) => b.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => ({ pid: rs.resource.attributes['process.pid'], s })))));
    expect(spans.filter((x) => x.s.attributes['server.port'] === python!.port)).toHaveLength(0);
    expect(spans.filter((x) => x.s.kind === SpanKind.CLIENT && x.s.attributes['server.port'] === node!.port)).toHaveLength(0);
    const server = spans.filter((x) => x.pid === node!.pid);
    expect(server).toHaveLength(9);
    expect(server.every((x) => x.s.kind === SpanKind.SERVER)).toBe(true);
  });

  it.runIf(bpf.ok)('applies route patterns, then caps distinct routes', () => {
    const routes = traces
      .flatMap((b) => b.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)))
      .filter((s) => s.attributes['server.port'] === node!.port)
      .map((s) => `${s.attributes['url.path']} ${s.attributes['http.route']}`)
      .sort();
    // max_routes 4: /items/{sku}, /files/*, /x1, /x2 are taken; /x3 and /x4 overflow
    expect(routes).toEqual(['/files/a/b.txt /files/*', '/files/late /files/*', '/files/long /files/*', '/items/abc /items/{sku}', '/items/def /items/{sku}', '/x1 /x1', '/x2 /x2', '/x3 _OTHER', '/x4 _OTHER']);
  });

  it.runIf(bpf.ok)('keeps requests whose head exceeds the copied prefix; a traceparent beyond it is not seen', () => {
    const spans = traces.flatMap((b) => b.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));
    const long = spans.find((s) => s.attributes['url.path'] === '/files/long')!;
    expect(long.attributes['network.protocol.version']).toBeUndefined();
    expect(JSON.stringify(long.attributes)).not.toContain('sss');
    const late = spans.find((s) => s.attributes['url.path'] === '/files/late')!;
    expect(late.attributes['network.protocol.version']).toBe('1.1');
    expect(late.traceId).not.toBe(LATE_TRACE);
    expect(late.parentSpanId).toBeUndefined();
  });
});
