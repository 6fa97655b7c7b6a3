// Responses the HTTP capture cannot pair are counted, and only request heads cross into user
// space, on the real kernel. One keep-alive connection from a raw client
// (fixtures/http-unpaired-client.py) to the Node test server carries requests the kernel does not
// recognise (a first write of 2 bytes, a method it does not know), pipelined requests, and
// request bodies sent with their heads. Both ends are captured (include.ports = the server's
// port), so every response the client receives is two exchange ends, each either a span or
// counted in sonde_ebpf_events_lost_total:
//   spans + lost{http_unpaired} + lost{http} + lost{http_decoder} == 2 x responses, exactly.
// A raw HttpCapture runs alongside the receiver to look at the record bytes themselves.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Span } from '../../src/pdata/types.js';
import { SpanKind } from '../../src/pdata/types.js';
import { ebpfReceiverFactory } from '../../src/receivers/ebpf/factory.js';
import type { EbpfReceiver } from '../../src/receivers/ebpf/receiver.js';
import type { HttpFeature } from '../../src/receivers/ebpf/http/http-feature.js';
import { HttpCapture } from '../../src/receivers/ebpf/http/http-capture.js';
import * as L from '../../src/receivers/ebpf/http/event-layout.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import { promValue } from '../helpers/sonde-process.js';
import { requireBpf } from './bpf-available.js';
import { CapturingConsumer, makeSettings } from './harness.js';
import { startNodeServer, type RunningServer } from './http-servers.js';

/** Statuses the client prints: /four, /short, /purge, /body, /pipe/1..4, BREW. */
const EXPECTED_STATUSES = '200 200 200 200 200 200 200 200 400';

function runClient(port: number): Promise<string> {
  const script = fileURLToPath(new URL('./fixtures/http-unpaired-client.py', import.meta.url));
  return new Promise((resolve, reject) =>
    execFile('python3', [script, String(port)], { timeout: 20_000 }, (e, out, err) =>
      e ? reject(new Error(`unpaired client failed: ${err || e.message}`)) : resolve(out.trim()),
    ),
  );
}

interface RawRecord {
  role: number;
  reqLen: number;
  flags: number;
  head: string;
}

describe('HTTP capture: unpaired responses and head-only copies (real kernel)', () => {
  const bpf = requireBpf();
  const consumer = new CapturingConsumer();
  const traces = consumer.traces;
  const raw: RawRecord[] = [];
  const rawLost: Record<string, number> = {};
  let telemetry: SelfTelemetry;
  let server: RunningServer | undefined;
  let receiver: EbpfReceiver | undefined;
  let capture: HttpCapture | undefined;
  let feature: HttpFeature | undefined;
  let statuses = '';
  let selfMetrics = '';

  beforeAll(async () => {
    if (!bpf.ok) return;
    server = await startNodeServer();
    telemetry = new SelfTelemetry({ processMetrics: false });
    const defaults = ebpfReceiverFactory.createDefaultConfig();
    receiver = ebpfReceiverFactory.create(
      makeSettings(telemetry, 'unpaired'),
      { ...defaults, collection_interval: '1h', tcp: { enabled: false }, include: { ...defaults.include, ports: [server.port] } },
      { traces: consumer },
    ) as EbpfReceiver;
    await receiver.start();
    feature = receiver.running.find((f) => f.name === 'http') as HttpFeature;
    // A second, independent copy of the kernel side whose records are kept byte for byte.
    capture = new HttpCapture({
      filters: { includePorts: [server.port] },
      handler: (view, offset, length) => {
        const reqLen = view.getUint16(offset + L.OFF_REQ_LEN, true);
        raw.push({
          role: view.getUint8(offset + L.OFF_ROLE),
          reqLen,
          flags: view.getUint16(offset + L.OFF_FLAGS, true),
          // the whole record after the fixed part: what the kernel handed over
          head: Buffer.from(view.buffer, view.byteOffset + offset + L.OFF_REQ, length - L.OFF_REQ).toString('latin1'),
        });
      },
    });
    capture.start();
    try {
      statuses = await runClient(server.port);
    } finally {
      capture.drain();
      capture.collectLost((program, delta) => (rawLost[program] = (rawLost[program] ?? 0) + delta));
      capture.close();
      await receiver.shutdown(); // drains the ring, reads the kernel's counters, ships the last spans
    }
    selfMetrics = await telemetry.render();
  }, 60_000);

  afterAll(async () => {
    capture?.close();
    await receiver?.shutdown();
    await server?.stop();
  });

  const spans = () =>
    traces
      .flatMap((b) => b.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)))
      .filter((s: Span) => s.attributes['server.port'] === server!.port);
  const paths = (kind: SpanKind) =>
    spans()
      .filter((s) => s.kind === kind)
      .map((s) => String(s.attributes['url.path']))
      .sort();
  const lost = (program: string) => {
    const v = promValue(selfMetrics, 'sonde_ebpf_events_lost_total', { program });
    return Number.isNaN(v) ? 0 : v;
  };

  it.runIf(bpf.ok)('the client received every response', () => {
    expect(statuses).toBe(EXPECTED_STATUSES);
  });

  it.runIf(bpf.ok)('every exchange end is a span or counted in http_unpaired, exactly', () => {
    const responses = statuses.split(' ').length;
    expect(feature!.pipeline.stats.decodeErrors).toBe(0);
    expect(lost('http')).toBe(0);
    expect(lost('http_decoder')).toBe(0);
    const all = spans().length;
    expect(all + lost('http_unpaired') + lost('http') + lost('http_decoder')).toBe(2 * responses);
    // Deterministic per side: /four (its "POST" alone is recognised), /body, and the first of
    // each pipelined pair are spans; /short, /purge, BREW, /pipe/2 are unpaired on both sides.
    // /pipe/4 is unpaired on the client; on the server it is a span if the server answered
    // /pipe/3 before reading /pipe/4, otherwise unpaired as well.
    expect(paths(SpanKind.CLIENT)).toEqual(['/body', '/four', '/pipe/1', '/pipe/3']);
    const server = paths(SpanKind.SERVER);
    expect([
      ['/body', '/four', '/pipe/1', '/pipe/3'],
      ['/body', '/four', '/pipe/1', '/pipe/3', '/pipe/4'],
    ]).toContainEqual(server);
    expect(lost('http_unpaired')).toBe(2 * responses - 4 - server.length);
    expect(all).toBe(4 + server.length);
    // The independent capture counted the same
    expect(rawLost['http_unpaired'] ?? 0).toBe(lost('http_unpaired'));
  });

  it.runIf(bpf.ok)('records carry the request head only: never its body, never the request after it', () => {
    expect(raw.length).toBe(spans().length);
    for (const r of raw) {
      expect(r.head.length).toBe(r.reqLen); // nothing beyond req_len in the record either
      expect(r.head.endsWith('\r\n\r\n')).toBe(true);
      expect(r.head.indexOf('\r\n\r\n')).toBe(r.head.length - 4);
      expect(r.flags & L.FLAG_REQ_TRUNCATED).toBe(0);
      expect(r.head).not.toContain('body-of-four');
      expect(r.head).not.toContain('secret-body-bytes');
      expect(r.head).not.toContain('/pipe/2');
    }
    const body = raw.filter((r) => r.head.startsWith('POST /body '));
    expect(body.map((r) => r.role).sort()).toEqual([L.ROLE_SERVER, L.ROLE_CLIENT].sort());
    expect(body[0]!.head).toBe(`POST /body HTTP/1.1\r\nHost: 127.0.0.1:${server!.port}\r\nContent-Length: 17\r\n\r\n`);
    // the head of /four arrived in two writes ("POST", then the rest with the body): whole, cut after the blank line
    const four = raw.filter((r) => r.head.startsWith('POST /four '));
    expect(four).toHaveLength(2);
    for (const r of four) expect(r.head).toBe(`POST /four HTTP/1.1\r\nHost: 127.0.0.1:${server!.port}\r\nContent-Length: 12\r\n\r\n`);
  });
});
