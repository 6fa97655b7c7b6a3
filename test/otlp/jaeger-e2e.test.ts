// End to end: OTLP into Sonde's receiver, out through the otlp / otlphttp exporters, into a real
// Jaeger v2 (started here on 127.0.0.1), checked through Jaeger's query API.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Exporter } from '../../src/component/types.js';
import { otlpExporterFactory } from '../../src/exporters/otlp/factory.js';
import { otlpHttpExporterFactory } from '../../src/exporters/otlphttp/factory.js';
import { encodeOtlpRequest } from '../../src/pdata/otlp/encode.js';
import type { TelemetryBatch, TracesBatch } from '../../src/pdata/types.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import type { OtlpReceiver } from '../../src/receivers/otlp/otlp-receiver.js';
import { counterValue, settingsFor, startReceiver } from './harness.js';
import { attributeMap, Jaeger, jaegerAvailable, type JaegerSpan } from './jaeger.js';
import { freePort } from '../helpers/free-port.js';
import { promValue, startSonde, waitForOk } from '../helpers/sonde-process.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollValue } from '../helpers/poll.js';

const available = jaegerAvailable();
const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

/** A trace of three spans: root SERVER -> CLIENT -> INTERNAL, with attributes and an event. */
function threeSpanTrace(traceId: string, tag: string): TracesBatch {
  const [root, child, grandchild] = [hex(8), hex(8), hex(8)];
  const t0 = BigInt(Date.now()) * 1_000_000n;
  const ms = 1_000_000n;
  return {
    signal: 'traces',
    resourceSpans: [
      {
        resource: { attributes: { 'service.name': `sonde-e2e-${tag}`, 'host.name': 'test-host' } },
        scopeSpans: [
          {
            scope: { name: 'sonde.e2e', version: '0.1.0' },
            spans: [
              { traceId, spanId: root, name: 'GET /orders', kind: 2, startTimeUnixNano: t0, endTimeUnixNano: t0 + 50n * ms, attributes: { 'http.request.method': 'GET', 'http.response.status_code': 200, 'url.path': '/orders', tag }, events: [{ timeUnixNano: t0 + 5n * ms, name: 'auth.ok', attributes: { 'user.id': 'u-17' } }], links: [], status: { code: 0 } },
              { traceId, spanId: child, parentSpanId: root, name: 'GET', kind: 3, startTimeUnixNano: t0 + 10n * ms, endTimeUnixNano: t0 + 40n * ms, attributes: { 'server.address': 'inventory', 'server.port': 8080, ratio: 0.25 }, events: [], links: [], status: { code: 0 } },
              { traceId, spanId: grandchild, parentSpanId: child, name: 'decode', kind: 1, startTimeUnixNano: t0 + 20n * ms, endTimeUnixNano: t0 + 30n * ms, attributes: { ok: false }, events: [], links: [], status: { code: 2, message: 'bad payload' } },
            ],
          },
        ],
      },
    ],
  };
}

/** Each span of the trace reached Jaeger exactly `copies` times (final once the senders drained). */
function expectDelivered(jaeger: Jaeger, traceId: string, spanIds: string[], copies: number): void {
  expect(Object.fromEntries(jaeger.tap!.spanCopies(traceId))).toEqual(Object.fromEntries(spanIds.map((id) => [id, copies])));
}

const spanIdsOf = (batch: TracesBatch): string[] => batch.resourceSpans[0]!.scopeSpans[0]!.spans.map((s) => s.spanId);
const traceIdOf = (batch: TracesBatch): string => batch.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId;

function expectSameSpans(found: JaegerSpan[], sent: TracesBatch): void {
  const want = sent.resourceSpans[0]!.scopeSpans[0]!.spans;
  const resource = sent.resourceSpans[0]!.resource.attributes;
  expect(found.map((s) => s.spanId).sort()).toEqual(want.map((s) => s.spanId).sort());
  for (const w of want) {
    const f = found.find((s) => s.spanId === w.spanId)!;
    // The resource arrives unchanged: service.name and host.name ('test-host'), and nothing else added.
    expect(f.resource).toEqual(resource);
    expect(f.traceId).toBe(w.traceId);
    expect(f.name).toBe(w.name);
    expect(f.kind).toBe(w.kind);
    expect(f.parentSpanId || undefined).toBe(w.parentSpanId);
    expect(BigInt(f.startTimeUnixNano!)).toBe(w.startTimeUnixNano);
    expect(BigInt(f.endTimeUnixNano!)).toBe(w.endTimeUnixNano);
    expect(attributeMap(f.attributes)).toEqual(w.attributes);
    expect((f.events ?? []).map((e) => ({ name: e.name, attributes: attributeMap(e.attributes), time: BigInt(e.timeUnixNano!) }))).toEqual(
      w.events.map((e) => ({ name: e.name, attributes: e.attributes, time: e.timeUnixNano })),
    );
    expect(f.status?.code ?? 0).toBe(w.status.code);
  }
}

async function postTraces(port: number, batch: TelemetryBatch, format: 'protobuf' | 'json' = 'protobuf'): Promise<number> {
  const r = await fetch(`http://127.0.0.1:${port}/v1/traces`, {
    method: 'POST',
    body: encodeOtlpRequest(batch, format) as unknown as RequestInit["body"],
    headers: { 'content-type': format === 'json' ? 'application/json' : 'application/x-protobuf' },
  });
  await r.arrayBuffer();
  return r.status;
}

describe.skipIf(!available)('Jaeger end to end', () => {
  let jaeger: Jaeger;
  beforeAll(async () => {
    // The tap shows what Jaeger's query API cannot: how many copies of each span it accepted.
    jaeger = await Jaeger.create('memory', { tap: true });
    await jaeger.start();
  });
  afterAll(async () => {
    await jaeger?.dispose();
  });

  /** Receiver -> exporter, wired in-process (the receiver's traces consumer is the exporter). */
  async function pipeline(exporter: Exporter, telemetry: SelfTelemetry): Promise<{ receiver: OtlpReceiver; httpPort: number; grpcPort: number }> {
    await exporter.start();
    return startReceiver({ traces: exporter }, telemetry);
  }

  for (const type of ['otlp', 'otlphttp'] as const) {
    it(`spans received over OTLP and exported with ${type} appear in Jaeger exactly`, async () => {
      const telemetry = new SelfTelemetry({ processMetrics: false });
      const exporter =
        type === 'otlp'
          ? otlpExporterFactory.create(settingsFor('otlp/jaeger', telemetry), { ...otlpExporterFactory.createDefaultConfig(), endpoint: jaeger.grpcEndpoint, tls: { insecure: true, insecure_skip_verify: false } })
          : otlpHttpExporterFactory.create(settingsFor('otlphttp/jaeger', telemetry), { ...otlpHttpExporterFactory.createDefaultConfig(), endpoint: jaeger.httpEndpoint });
      const { receiver, httpPort } = await pipeline(exporter, telemetry);
      const traceA = threeSpanTrace(hex(16), `${type}-proto`);
      const traceB = threeSpanTrace(hex(16), `${type}-json`);
      try {
        expect(await postTraces(httpPort, traceA, 'protobuf')).toBe(200);
        expect(await postTraces(httpPort, traceB, 'json')).toBe(200);
        for (const sent of [traceA, traceB]) {
          const traceId = sent.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId;
          const found = await jaeger.waitForSpans(traceId, 3);
          expectSameSpans(found, sent);
        }
      } finally {
        await receiver.shutdown();
        await exporter.shutdown();
      }
      // Counted once the export call returns, which can be a moment after Jaeger stored the spans;
      // after shutdown (which drains the queue) the count is final.
      expect(await counterValue(telemetry, 'sonde_exporter_sent_items_total', { exporter: `${type}/jaeger` })).toBe(6);
      // Exactly: each span delivered once, not once plus a duplicate Jaeger's storage would hide.
      for (const sent of [traceA, traceB]) expectDelivered(jaeger, traceIdOf(sent), spanIdsOf(sent), 1);
    });
  }

  it('`sonde run` with an otlp receiver forwards to Jaeger through otlp and otlphttp, and /metrics counts it', async () => {
    const [grpcPort, httpPort, adminPort] = [await freePort(), await freePort(), await freePort()];
    const dir = mkdtempSync(join(tmpdir(), 'sonde-otlp-run-'));
    const configPath = join(dir, 'pipeline.config.yaml');
    writeFileSync(
      configPath,
      [
        'receivers:',
        '  otlp:',
        '    protocols:',
        `      grpc: { endpoint: "127.0.0.1:${grpcPort}" }`,
        `      http: { endpoint: "127.0.0.1:${httpPort}" }`,
        'exporters:',
        `  otlp/jaeger: { endpoint: "${jaeger.grpcEndpoint}", tls: { insecure: true } }`,
        `  otlphttp/jaeger: { endpoint: "${jaeger.httpEndpoint}", encoding: json }`,
        'service:',
        `  telemetry: { metrics: { address: "127.0.0.1:${adminPort}" } }`,
        '  pipelines:',
        '    traces/grpc: { receivers: [otlp], exporters: [otlp/jaeger] }',
        '    traces/http: { receivers: [otlp], exporters: [otlphttp/jaeger] }',
        '',
      ].join('\n'),
    );
    const proc = startSonde(['run', '--config', configPath]);
    try {
      await waitForOk(`http://127.0.0.1:${adminPort}/readyz`, proc);
      const sent = threeSpanTrace(hex(16), 'sonde-run');
      expect(await postTraces(httpPort, sent)).toBe(200);
      // Both exporters deliver the same spans: Jaeger keeps one copy per span id.
      expectSameSpans(await jaeger.waitForSpans(sent.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId, 3), sent);
      // Jaeger may show the spans from one exporter while the other is still sending (or waiting
      // out a retry): poll until both counted, bounded by time (not by a number of rounds).
      const metrics = await pollValue(
        async () => (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text(),
        (m) => promValue(m, 'sonde_exporter_sent_items_total', { exporter: 'otlphttp/jaeger' }) === 3 && promValue(m, 'sonde_exporter_sent_items_total', { exporter: 'otlp/jaeger' }) === 3,
        30_000,
      );
      expect(promValue(metrics, 'sonde_exporter_sent_items_total', { exporter: 'otlp/jaeger' })).toBe(3);
      expect(promValue(metrics, 'sonde_exporter_sent_items_total', { exporter: 'otlphttp/jaeger' })).toBe(3);
      expect(promValue(metrics, 'sonde_receiver_accepted_items_total', { receiver: 'otlp' })).toBe(3);
      expect((await proc.stop()).code).toBe(0);
      // One copy from each exporter, no more.
      expectDelivered(jaeger, traceIdOf(sent), spanIdsOf(sent), 2);
    } finally {
      if (proc.child.exitCode === null) await proc.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('an app instrumented with @opentelemetry/sdk-node reaches Jaeger unchanged through Sonde', async () => {
    const telemetry = new SelfTelemetry({ processMetrics: false });
    const exporter = otlpExporterFactory.create(settingsFor('otlp/sdk', telemetry), { ...otlpExporterFactory.createDefaultConfig(), endpoint: `http://${jaeger.grpcEndpoint}` });
    const { receiver, httpPort } = await pipeline(exporter, telemetry);
    let traceId = '';
    let spanIds: string[] = [];
    try {
      const app = fileURLToPath(new URL('./apps/traced-app.mjs', import.meta.url));
      const { stdout } = await promisify(execFile)(process.execPath, [app], {
        env: { ...process.env, SONDE_OTLP_URL: `http://127.0.0.1:${httpPort}`, OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' },
        timeout: 30_000,
      });
      const made = JSON.parse(stdout) as {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind: number;
        attributes: Record<string, unknown>;
        events: { name: string; attributes: Record<string, unknown>; time: [number, number] }[];
        status: { code: number; message?: string };
        resource: Record<string, unknown>;
      }[];
      expect(made).toHaveLength(3);
      // The SDK's own resource: the configured service name plus what its detectors found.
      expect(made[0]!.resource).toMatchObject({ 'service.name': 'traced-app', 'telemetry.sdk.name': 'opentelemetry', 'telemetry.sdk.language': 'nodejs', 'process.pid': expect.any(Number), 'host.name': expect.any(String) });
      traceId = made[0]!.traceId;
      spanIds = made.map((m) => m.spanId);
      const found = await jaeger.waitForSpans(traceId, 3);
      expect(found.map((s) => s.spanId).sort()).toEqual(made.map((s) => s.spanId).sort());
      for (const m of made) {
        const f = found.find((s) => s.spanId === m.spanId)!;
        expect(f.traceId).toBe(m.traceId);
        expect(f.name).toBe(m.name);
        expect(f.parentSpanId || undefined).toBe(m.parentSpanId);
        // SDK SpanKind is 0-based (INTERNAL=0); OTLP adds one.
        expect(f.kind).toBe(m.kind + 1);
        expect(attributeMap(f.attributes)).toEqual(m.attributes);
        expect((f.events ?? []).map((e) => ({ name: e.name, attributes: attributeMap(e.attributes), time: BigInt(e.timeUnixNano!) }))).toEqual(
          m.events.map((e) => ({ name: e.name, attributes: e.attributes, time: BigInt(e.time[0]) * 1_000_000_000n + BigInt(e.time[1]) })),
        );
        expect(f.status?.code ?? 0).toBe(m.status.code);
        if (m.status.message) expect(f.status?.message).toBe(m.status.message);
        expect(f.resource).toEqual(m.resource);
      }
    } finally {
      await receiver.shutdown();
      await exporter.shutdown();
    }
    expectDelivered(jaeger, traceId, spanIds, 1);
  });
});

describe.skipIf(!available)('Jaeger outage', () => {
  // Badger keeps what Jaeger stored across its restart, so every span can be checked at the end;
  // the ingest tap counts every copy Jaeger accepted (storage and query API hide duplicates).
  let jaeger: Jaeger;
  beforeAll(async () => {
    jaeger = await Jaeger.create('badger', { tap: true });
    await jaeger.start();
  });
  afterAll(async () => {
    await jaeger?.dispose();
  });

  // Both exporters go through the same helper, but not the same transport: a gRPC channel
  // reconnecting versus HTTP keep-alive sockets reset under a request.
  for (const type of ['otlp', 'otlphttp'] as const) {
    it(`\`sonde run\` with ${type} loses nothing when Jaeger is stopped for 20 s in the middle of a steady stream, and /metrics shows the retries`, async () => {
      const [httpPort, adminPort] = [await freePort(), await freePort()];
      const dir = mkdtempSync(join(tmpdir(), 'sonde-otlp-outage-'));
      const configPath = join(dir, 'pipeline.config.yaml');
      const exporterId = `${type}/jaeger`;
      writeFileSync(
        configPath,
        [
          'receivers:',
          '  otlp:',
          '    protocols:',
          '      grpc: { enabled: false }',
          `      http: { endpoint: "127.0.0.1:${httpPort}" }`,
          'exporters:',
          `  ${exporterId}:`,
          ...(type === 'otlp' ? [`    endpoint: "${jaeger.grpcEndpoint}"`, '    tls: { insecure: true }'] : [`    endpoint: "${jaeger.httpEndpoint}"`]),
          '    retry_on_failure: { initial_interval: 200ms, max_interval: 2s, max_elapsed_time: 0 }',
          'service:',
          `  telemetry: { metrics: { address: "127.0.0.1:${adminPort}" } }`,
          '  pipelines:',
          `    traces: { receivers: [otlp], exporters: [${exporterId}] }`,
          '',
        ].join('\n'),
      );
      const proc = startSonde(['run', '--config', configPath]);
      const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
      const label = { exporter: exporterId };
      // The config leaves sending_queue at its defaults: this many batches can be on the wire at once.
      const numConsumers = otlpExporterFactory.createDefaultConfig().sending_queue.num_consumers;
      expect(otlpHttpExporterFactory.createDefaultConfig().sending_queue.num_consumers).toBe(numConsumers);
      const sent: TracesBatch[] = [];
      try {
        await waitForOk(`http://127.0.0.1:${adminPort}/readyz`, proc);
        const BATCHES = 60; // one trace of 3 spans every 500 ms: 30 s of traffic
        const stopAt = 10;
        let restarted: Promise<void> | undefined;
        for (let i = 0; i < BATCHES; i++) {
          if (i === stopAt) {
            await jaeger.stop();
            restarted = new Promise((r) => setTimeout(r, 20_000)).then(() => jaeger.start());
          }
          const batch = threeSpanTrace(hex(16), `outage-${type}-${i}`);
          sent.push(batch);
          expect(await postTraces(httpPort, batch)).toBe(200);
          await new Promise((r) => setTimeout(r, 500));
        }
        await restarted;
        // Wait (bounded) for the queue to drain into the restarted Jaeger.
        const text = await pollValue(metrics, (m) => promValue(m, 'sonde_exporter_sent_items_total', label) >= BATCHES * 3, 60_000, 500);
        expect(promValue(text, 'sonde_exporter_sent_items_total', label)).toBe(BATCHES * 3);
        expect(promValue(text, 'sonde_exporter_retries_total', label)).toBeGreaterThan(0);
        expect(promValue(text, 'sonde_exporter_queue_size', label)).toBe(0);
        expect(promValue(text, 'sonde_receiver_accepted_items_total', { receiver: 'otlp' })).toBe(BATCHES * 3);
        // Never failed, never dropped (absent series count as zero).
        expect(promValue(text, 'sonde_exporter_send_failed_items_total', label) || 0).toBe(0);
        expect(promValue(text, 'sonde_exporter_enqueue_failed_items_total', label) || 0).toBe(0);
        // Delivery across an outage is at-least-once: a batch Jaeger accepted just before it was
        // stopped, without its answer reaching Sonde, is sent again. So: every span sent is stored
        // in Jaeger and nothing else is; duplicates (counted at Jaeger's ingest) are bounded.
        let missing = 0;
        let unexpected = 0;
        let duplicates = 0;
        const duplicatedBatches: number[] = [];
        for (const [i, batch] of sent.entries()) {
          const spans = batch.resourceSpans[0]!.scopeSpans[0]!.spans;
          const want = new Set(spans.map((x) => x.spanId));
          const found = await jaeger.waitForSpans(spans[0]!.traceId, 3, 10_000);
          const ids = found.map((x) => x.spanId);
          for (const id of want) if (!ids.includes(id)) missing++;
          unexpected += ids.filter((id) => !want.has(id)).length;
          const copies = jaeger.tap!.spanCopies(spans[0]!.traceId);
          // The tap saw exactly the spans of this trace (each at least once).
          expect([...copies.keys()].sort()).toEqual([...want].sort());
          const extra = [...copies.values()].reduce((n, c) => n + c - 1, 0);
          duplicates += extra;
          if (extra > 0) duplicatedBatches.push(i);
        }
        console.log(`jaeger outage (${type}): ${sent.length * 3} spans sent, ${missing} missing, ${duplicates} duplicate deliveries to Jaeger (at-least-once), from batches [${duplicatedBatches.join(', ')}]`);
        expect(missing).toBe(0);
        expect(unexpected).toBe(0);
        // Duplicates can only come from batches in flight when Jaeger stopped: accepted by Sonde
        // before the stop (index < stopAt), at most num_consumers of them, each sent once more.
        expect(duplicatedBatches.filter((i) => i >= stopAt)).toEqual([]);
        expect(duplicatedBatches.length).toBeLessThanOrEqual(numConsumers);
        expect(duplicates).toBeLessThanOrEqual(numConsumers * 3);
        expect((await proc.stop()).code).toBe(0);
      } finally {
        if (proc.child.exitCode === null) await proc.stop('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    }, 180_000);
  }
});
