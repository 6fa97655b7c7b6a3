// Fuzzes OTLP ingestion: the decoder directly (protobuf and JSON: random bytes, random JSON, and
// valid requests with random mutations), then the OTLP/HTTP receiver over a real socket on
// 127.0.0.1. Only a SondeError with a code may come out of the decoder; the receiver answers every
// request with a 2xx/4xx status (never 500), keeps serving, and accounts for what it accepted.
import { gzipSync } from 'node:zlib';
import { Client, Metadata, credentials, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consumer } from '../../src/component/types.js';
import { GRPC_EXPORT_METHODS } from '../../src/exporters/otlp/grpc-exporter.js';
import { otlpReceiverFactory } from '../../src/receivers/otlp/factory.js';
import type { OtlpReceiver } from '../../src/receivers/otlp/otlp-receiver.js';
import { countReceiverItems } from '../../src/service/receiver-accounting.js';
import { decodeOtlpRequest } from '../../src/pdata/otlp/decode.js';
import { encodeOtlpRequest } from '../../src/pdata/otlp/encode.js';
import { countItems } from '../../src/pdata/count.js';
import type { Signal, TelemetryBatch } from '../../src/pdata/types.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import { CaptureConsumer, counterValue, settingsFor, startReceiver } from '../otlp/harness.js';
import { freePort } from '../helpers/free-port.js';
import { sampleMetrics, sampleTraces } from '../helpers/sample-data.js';
import { expectNoLeak, expectSondeError, fcParams, sampleParams, testTimeout } from './fuzz-settings.js';

const RUNS = 2000;
const HTTP_RUNS = 300;
const GRPC_RUNS = 300;

const SEEDS: Record<Signal, { protobuf: Uint8Array; json: Uint8Array }> = {
  traces: { protobuf: encodeOtlpRequest(sampleTraces(4), 'protobuf'), json: encodeOtlpRequest(sampleTraces(4), 'json') },
  metrics: { protobuf: encodeOtlpRequest(sampleMetrics(), 'protobuf'), json: encodeOtlpRequest(sampleMetrics(), 'json') },
};

const signal = fc.constantFrom<Signal>('traces', 'metrics');
const format = fc.constantFrom<'protobuf' | 'json'>('protobuf', 'json');

const byteMutation = fc.record({
  flips: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 6 }),
  inserts: fc.array(fc.record({ at: fc.nat(), bytes: fc.uint8Array({ maxLength: 8 }) }), { maxLength: 3 }),
  cut: fc.option(fc.nat(), { nil: undefined }),
});

function mutateBytes(seed: Uint8Array, m: { flips: { at: number; value: number }[]; inserts: { at: number; bytes: Uint8Array }[]; cut: number | undefined }): Uint8Array {
  let out = Buffer.from(seed);
  for (const ins of m.inserts) {
    const at = ins.at % (out.length + 1);
    out = Buffer.concat([out.subarray(0, at), ins.bytes, out.subarray(at)]);
  }
  for (const f of m.flips) if (out.length > 0) out[f.at % out.length] = f.value;
  return m.cut === undefined ? out : out.subarray(0, m.cut % (out.length + 1));
}

/** JSON-level mutation: replace one value somewhere in a valid OTLP/JSON request with random JSON. */
function mutateJson(seed: Uint8Array, pathPick: number, replacement: unknown): Uint8Array {
  const doc = JSON.parse(Buffer.from(seed).toString('utf8')) as unknown;
  const slots: Array<{ parent: Record<string, unknown> | unknown[]; key: string | number }> = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach((x, i) => (slots.push({ parent: v, key: i }), walk(x)));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) (slots.push({ parent: v as Record<string, unknown>, key: k }), walk(x));
  };
  walk(doc);
  const slot = slots[pathPick % slots.length]!;
  (slot.parent as Record<string | number, unknown>)[slot.key] = replacement;
  return Buffer.from(JSON.stringify(doc), 'utf8');
}

const hostileJson = fc.oneof(
  fc.jsonValue({ maxDepth: 6 }),
  fc.constantFrom('', 'ffffffffffffffffffffffffffffffff', '-1', '18446744073709551616', 'NaN', 1e308, -0, null, [], {}),
  fc.integer({ min: 1, max: 200 }).map((d) => JSON.parse('['.repeat(d) + ']'.repeat(d)) as unknown),
  fc.integer({ min: 1, max: 100 }).map((d) => {
    let v: unknown = { stringValue: 'x' };
    for (let i = 0; i < d; i++) v = { kvlistValue: { values: [{ key: 'k', value: v }] } };
    return v;
  }),
);

function decodeChecked(sig: Signal, body: Uint8Array, fmt: 'protobuf' | 'json'): void {
  try {
    const r = decodeOtlpRequest(sig, body, fmt);
    expect(r.items).toBe(countItems(r.batch));
    expect(r.rejected).toBeGreaterThanOrEqual(0);
  } catch (err) {
    expectSondeError(err);
  }
}

describe('fuzz: OTLP decoder', () => {
  it(
    'random bytes and random JSON give a batch or SONDE_OTLP_MALFORMED, never another throw',
    () => {
      fc.assert(
        fc.property(signal, fc.oneof(fc.uint8Array({ maxLength: 2048 }), fc.jsonValue({ maxDepth: 8 }).map((j) => Buffer.from(JSON.stringify(j) ?? 'null'))), format, (sig, body, fmt) => {
          decodeChecked(sig, body, fmt);
        }),
        fcParams(RUNS),
      );
    },
    testTimeout(RUNS, 2),
  );

  it(
    'mutated valid protobuf and JSON requests give a batch or SONDE_OTLP_MALFORMED',
    () => {
      fc.assert(
        fc.property(signal, format, byteMutation, (sig, fmt, m) => decodeChecked(sig, mutateBytes(SEEDS[sig][fmt], m), fmt)),
        fcParams(RUNS),
      );
      fc.assert(
        fc.property(signal, fc.nat(), hostileJson, (sig, pick, replacement) => decodeChecked(sig, mutateJson(SEEDS[sig].json, pick, replacement), 'json')),
        fcParams(RUNS),
      );
    },
    testTimeout(RUNS * 2, 2),
  );

  it(
    'decoding does not leak',
    async () => {
      const inputs = fc.sample(fc.tuple(signal, format, byteMutation), sampleParams(500)).map(([sig, fmt, m]) => ({ sig, fmt, body: mutateBytes(SEEDS[sig][fmt], m) }));
      await expectNoLeak(
        () => {
          for (const i of inputs) {
            try {
              decodeOtlpRequest(i.sig, i.body, i.fmt);
            } catch {
              // counted as malformed by the receiver; checked by the tests above
            }
          }
        },
        10,
        4 << 20,
      );
    },
    120_000,
  );
});

/** An OTLP receiver on free 127.0.0.1 ports (from free-port.ts) whose pipeline is `next`, counted as the service counts it. */
async function startOn(next: Record<Signal, Consumer>, telemetry: SelfTelemetry, protocols: { grpc: boolean; http: boolean }, maxBody = '64KiB') {
  const config = otlpReceiverFactory.createDefaultConfig();
  config.protocols.grpc = { enabled: protocols.grpc, endpoint: `127.0.0.1:${protocols.grpc ? await freePort() : 0}`, max_recv_msg_size: maxBody };
  config.protocols.http = { enabled: protocols.http, endpoint: `127.0.0.1:${protocols.http ? await freePort() : 0}`, max_request_body_size: maxBody };
  const counted = { traces: countReceiverItems('otlp', next.traces, telemetry), metrics: countReceiverItems('otlp', next.metrics, telemetry) };
  const receiver = otlpReceiverFactory.create(settingsFor('otlp', telemetry), config, counted) as OtlpReceiver;
  await receiver.start();
  return { receiver, grpcPort: receiver.ports.grpc ?? 0, httpPort: receiver.ports.http ?? 0 };
}

/** Counts what reaches the pipeline and keeps nothing (for leak checks). */
class CountingConsumer implements Consumer {
  readonly mutatesData = false;
  items = 0;
  async consume(batch: TelemetryBatch): Promise<void> {
    this.items += countItems(batch);
  }
}

describe('fuzz: OTLP/HTTP receiver', () => {
  const telemetry = new SelfTelemetry({ processMetrics: false });
  const traces = new CaptureConsumer();
  const metrics = new CaptureConsumer();
  let port = 0;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    const r = await startReceiver({ traces, metrics }, telemetry, '64KiB');
    port = r.httpPort;
    stop = () => r.receiver.shutdown();
  });
  afterAll(async () => stop?.());

  const body = fc.oneof(
    fc.uint8Array({ maxLength: 4096 }),
    fc.tuple(signal, format, byteMutation).map(([sig, fmt, m]) => mutateBytes(SEEDS[sig][fmt], m)),
    fc.tuple(signal, fc.nat(), hostileJson).map(([sig, pick, rep]) => mutateJson(SEEDS[sig].json, pick, rep)),
    fc.constant(new Uint8Array(70 * 1024)), // over max_request_body_size
  );
  const hostile = fc.record({
    path: fc.constantFrom('/v1/traces', '/v1/metrics', '/v1/logs', '/', '/v1/traces?x=1'),
    method: fc.constantFrom('POST', 'POST', 'POST', 'GET', 'PUT'),
    contentType: fc.constantFrom('application/x-protobuf', 'application/json', 'application/json; charset=utf-8', 'text/plain', ''),
    encoding: fc.constantFrom('', 'gzip', 'gzip-lie', 'deflate', 'br'),
    body,
  });
  type FuzzRequest = { path: string; method: string; contentType: string; encoding: string; body: Uint8Array };
  // A well-formed request for the right path, sometimes with one JSON value replaced: most of
  // these are accepted, so the accounting below is exercised on every run, not by luck.
  const validRequest = (sig: Signal, fmt: 'protobuf' | 'json', gzip: boolean, body?: Uint8Array): FuzzRequest => ({
    path: `/v1/${sig}`,
    method: 'POST',
    contentType: fmt === 'protobuf' ? 'application/x-protobuf' : 'application/json',
    encoding: gzip ? 'gzip' : '',
    body: body ?? SEEDS[sig][fmt],
  });
  const plausible = fc
    .tuple(signal, format, fc.boolean(), fc.option(fc.tuple(fc.nat(), hostileJson), { freq: 2, nil: undefined }))
    .map(([sig, fmt, gz, mutation]) =>
      validRequest(sig, mutation ? 'json' : fmt, gz, mutation ? mutateJson(SEEDS[sig].json, mutation[0], mutation[1]) : undefined),
    );
  const request: fc.Arbitrary<FuzzRequest> = fc.oneof({ arbitrary: hostile, weight: 3 }, { arbitrary: plausible, weight: 1 });

  /** Sends one request; resolves with the HTTP status (the body is read to the end). */
  async function send(toPort: number, r: FuzzRequest): Promise<number> {
    const headers: Record<string, string> = {};
    if (r.contentType) headers['content-type'] = r.contentType;
    let payload: Uint8Array = r.body;
    if (r.encoding === 'gzip') {
      headers['content-encoding'] = 'gzip';
      payload = gzipSync(r.body);
    } else if (r.encoding === 'gzip-lie') headers['content-encoding'] = 'gzip'; // not actually compressed
    else if (r.encoding) headers['content-encoding'] = r.encoding;
    const res = await fetch(`http://127.0.0.1:${toPort}${r.path}`, {
      method: r.method,
      headers,
      body: r.method === 'GET' ? undefined : payload,
      signal: AbortSignal.timeout(5000),
    });
    await res.arrayBuffer();
    return res.status;
  }

  it(
    'answers every request with 2xx or 4xx (never 500), keeps serving, and passes on exactly what it accepted',
    async () => {
      let okRequests = 0;
      let expectedItems = 0;
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          const status = await send(port, r);
          expect([200, 400, 404, 405, 413, 415]).toContain(status);
          if (status === 200) {
            okRequests++;
            // What a 200 promised: every item the request decodes to reached the pipeline.
            const sig: Signal = r.path.startsWith('/v1/metrics') ? 'metrics' : 'traces';
            expectedItems += decodeOtlpRequest(sig, r.body, r.contentType === 'application/x-protobuf' ? 'protobuf' : 'json').items;
          }
        }),
        // Run first, so that a 200 and its accounting are seen whatever the seed.
        { ...fcParams(HTTP_RUNS, 5000), examples: [[validRequest('traces', 'protobuf', false)], [validRequest('metrics', 'json', true)]] },
      );
      // Still serving a valid request after all that.
      const res = await fetch(`http://127.0.0.1:${port}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: SEEDS.traces.protobuf });
      expect(res.status).toBe(200);
      const captured = [...traces.batches, ...metrics.batches].reduce((n, b) => n + countItems(b), 0);
      expect(captured).toBe(expectedItems + countItems(sampleTraces(4)));
      expect(okRequests).toBeGreaterThanOrEqual(2); // at least the two valid examples
    },
    testTimeout(HTTP_RUNS, 50),
  );

  it(
    'serving fuzzed requests over a socket does not leak',
    async () => {
      // A receiver of its own whose pipeline keeps nothing: what stays on the heap is the receiver's.
      const sink = new CountingConsumer();
      const r = await startOn({ traces: sink, metrics: sink }, new SelfTelemetry({ processMetrics: false }), { grpc: false, http: true });
      try {
        const requests = [validRequest('traces', 'protobuf', false), ...fc.sample(request, sampleParams(80))];
        let expectedItems = 0;
        const { growth } = await expectNoLeak(
          async () => {
            for (const req of requests) {
              const status = await send(r.httpPort, req);
              expect([200, 400, 404, 405, 413, 415]).toContain(status);
              if (status === 200) expectedItems += decodeOtlpRequest(req.path.startsWith('/v1/metrics') ? 'metrics' : 'traces', req.body, req.contentType === 'application/x-protobuf' ? 'protobuf' : 'json').items;
            }
          },
          6,
          6 << 20,
        );
        if (process.env['SONDE_FUZZ_VERBOSE']) console.log('HTTP socket fuzz heap growth', growth);
        expect(expectedItems).toBeGreaterThanOrEqual(7 * 4); // the valid request, in the warm-up and 6 rounds
        expect(sink.items).toBe(expectedItems);
      } finally {
        await r.receiver.shutdown();
      }
    },
    120_000,
  );
});

describe('fuzz: OTLP/gRPC receiver', () => {
  const MAX_MESSAGE = 64 * 1024; // max_recv_msg_size below
  const telemetry = new SelfTelemetry({ processMetrics: false });
  const traces = new CaptureConsumer();
  const metrics = new CaptureConsumer();
  let receiver: OtlpReceiver;
  let plain: Client;
  let gzip: Client;

  beforeAll(async () => {
    const r = await startOn({ traces, metrics }, telemetry, { grpc: true, http: false });
    receiver = r.receiver;
    const address = `127.0.0.1:${r.grpcPort}`;
    plain = new Client(address, credentials.createInsecure());
    // grpc-js compresses every message of this channel with gzip (grpc-encoding: gzip).
    gzip = new Client(address, credentials.createInsecure(), { 'grpc.default_compression_algorithm': 2 });
  });
  afterAll(async () => {
    plain?.close();
    gzip?.close();
    await receiver?.shutdown();
  });

  interface GrpcCall {
    signal: Signal;
    body: Uint8Array;
    gzip: boolean;
  }

  /** One unary Export with a 5 s deadline: a hang shows up as DEADLINE_EXCEEDED. */
  function call(c: GrpcCall): Promise<{ code: number; details: string; response?: Buffer }> {
    return new Promise((resolve) => {
      (c.gzip ? gzip : plain).makeUnaryRequest(
        GRPC_EXPORT_METHODS[c.signal],
        (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength),
        (b: Buffer) => b,
        c.body,
        new Metadata(),
        { deadline: Date.now() + 5000 },
        (err: ServiceError | null, response?: Buffer) => resolve(err ? { code: err.code, details: err.details } : { code: GrpcStatus.OK, details: '', response }),
      );
    });
  }

  /** What the receiver must answer, from the bytes alone: too large, undecodable, or accepted. */
  function expectedStatus(c: GrpcCall): { code: number; items: number } {
    if (c.body.byteLength > MAX_MESSAGE) return { code: GrpcStatus.RESOURCE_EXHAUSTED, items: 0 };
    try {
      return { code: GrpcStatus.OK, items: decodeOtlpRequest(c.signal, c.body, 'protobuf').items };
    } catch (err) {
      expectSondeError(err);
      return { code: GrpcStatus.INVALID_ARGUMENT, items: 0 };
    }
  }

  /** A valid request over the limit: decodes fine, must still be refused whole. */
  const oversizedValid = (() => {
    const batch = sampleTraces(4);
    batch.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes['pad'] = 'x'.repeat(MAX_MESSAGE);
    return encodeOtlpRequest(batch, 'protobuf');
  })();
  const body = fc.oneof(
    { arbitrary: fc.uint8Array({ maxLength: 4096 }), weight: 2 },
    { arbitrary: fc.tuple(signal, byteMutation).map(([sig, m]) => mutateBytes(SEEDS[sig].protobuf, m)), weight: 3 },
    { arbitrary: fc.constantFrom(new Uint8Array(MAX_MESSAGE + 1), oversizedValid, fc.sample(fc.uint8Array({ minLength: 70_000, maxLength: 70_000 }), sampleParams(1))[0]!), weight: 1 },
  );
  const valid = fc.tuple(signal, fc.boolean()).map(([sig, gz]): GrpcCall => ({ signal: sig, body: SEEDS[sig].protobuf, gzip: gz }));
  const hostile = fc.record({ signal, body, gzip: fc.boolean() });
  // Each case sends 1-3 calls at once on the shared channels, so handlers also overlap.
  const calls = fc.array(fc.oneof({ arbitrary: hostile, weight: 4 }, { arbitrary: valid, weight: 1 }), { minLength: 1, maxLength: 3 });

  it(
    'answers every call with OK, INVALID_ARGUMENT or RESOURCE_EXHAUSTED (never a hang), keeps serving, and passes on exactly the items of the OK calls',
    async () => {
      const seen = { ok: 0, invalid: 0, exhausted: 0 };
      let expectedItems = 0;
      await fc.assert(
        fc.asyncProperty(calls, async (batch) => {
          const results = await Promise.all(batch.map((c) => call(c)));
          batch.forEach((c, i) => {
            const got = results[i]!;
            const want = expectedStatus(c);
            expect([GrpcStatus.OK, GrpcStatus.INVALID_ARGUMENT, GrpcStatus.RESOURCE_EXHAUSTED], `${got.code} ${got.details}`).toContain(got.code);
            expect(got.code, got.details).toBe(want.code);
            if (got.code === GrpcStatus.OK) {
              seen.ok++;
              expectedItems += want.items;
              expect(Buffer.isBuffer(got.response)).toBe(true);
            } else if (got.code === GrpcStatus.INVALID_ARGUMENT) {
              seen.invalid++;
              expect(got.details).toMatch(/^SONDE_OTLP_MALFORMED: /);
            } else seen.exhausted++;
          });
        }),
        // Run first, so that OK calls and their accounting are seen whatever the seed.
        {
          ...fcParams(GRPC_RUNS, 10_000),
          examples: [
            [[{ signal: 'traces', body: SEEDS.traces.protobuf, gzip: false }]],
            [[{ signal: 'metrics', body: SEEDS.metrics.protobuf, gzip: true }]],
            [[{ signal: 'traces', body: Buffer.from('\xff\xff\xff garbage'), gzip: false }]],
            // Compresses to a few KiB: the limit applies to the decompressed message.
            [[{ signal: 'traces', body: oversizedValid, gzip: true }]],
          ],
        },
      );
      // Still serving after all that.
      const last = await call({ signal: 'traces', body: SEEDS.traces.protobuf, gzip: false });
      expect(last.code).toBe(GrpcStatus.OK);
      const captured = [...traces.batches, ...metrics.batches].reduce((n, b) => n + countItems(b), 0);
      expect(captured).toBe(expectedItems + countItems(sampleTraces(4)));
      expect(await counterValue(telemetry, 'sonde_receiver_accepted_items_total', { receiver: 'otlp' })).toBe(captured);
      // Every INVALID_ARGUMENT was a malformed message, counted as such (oversized ones never reach Sonde's handler).
      expect(await counterValue(telemetry, 'sonde_receiver_malformed_requests_total', { receiver: 'otlp', transport: 'grpc' })).toBe(seen.invalid);
      // Every outcome was exercised (the examples alone give 2 OK, 1 INVALID_ARGUMENT, 1 RESOURCE_EXHAUSTED).
      expect(seen.ok).toBeGreaterThanOrEqual(2);
      expect(seen.invalid).toBeGreaterThanOrEqual(1);
      expect(seen.exhausted).toBeGreaterThanOrEqual(1);
      if (process.env['SONDE_FUZZ_VERBOSE']) console.log('gRPC fuzz outcomes', seen);
    },
    testTimeout(GRPC_RUNS, 60),
  );
});
