import { Client, Metadata, credentials, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retryableError, permanentError } from '../../src/errors/index.js';
import { GRPC_EXPORT_METHODS } from '../../src/exporters/otlp/grpc-exporter.js';
import { encodeOtlpRequest } from '../../src/pdata/otlp/encode.js';
import { OtlpTypes } from '../../src/pdata/otlp/otlp-proto.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import type { OtlpReceiver } from '../../src/receivers/otlp/otlp-receiver.js';
import { CaptureConsumer, counterValue, startReceiver } from './harness.js';
import { sampleMetrics, sampleTraces } from './fixtures.js';

const telemetry = new SelfTelemetry({ processMetrics: false });
const traces = new CaptureConsumer();
const metrics = new CaptureConsumer();
let receiver: OtlpReceiver;
let base: string;
let grpcClient: Client;

beforeAll(async () => {
  const r = await startReceiver({ traces, metrics }, telemetry, '64KiB');
  receiver = r.receiver;
  base = `http://127.0.0.1:${r.httpPort}`;
  grpcClient = new Client(`127.0.0.1:${r.grpcPort}`, credentials.createInsecure());
});

afterAll(async () => {
  grpcClient?.close();
  await receiver?.shutdown();
});

function post(path: string, body: Uint8Array, headers: Record<string, string>) {
  return fetch(`${base}${path}`, { method: 'POST', body: body as unknown as RequestInit["body"], headers });
}

function grpcCall(signal: 'traces' | 'metrics', body: Uint8Array): Promise<{ err: ServiceError | null; response?: Buffer }> {
  return new Promise((resolve) => {
    grpcClient.makeUnaryRequest(GRPC_EXPORT_METHODS[signal], (b: Uint8Array) => Buffer.from(b), (b: Buffer) => b, body, new Metadata(), {}, (err, response) =>
      resolve({ err, response }),
    );
  });
}

const malformedCount = (transport: string) => counterValue(telemetry, 'sonde_receiver_malformed_requests_total', { receiver: 'otlp', transport });

describe('otlp receiver over HTTP', () => {
  it('accepts protobuf, JSON and gzip for traces and metrics', async () => {
    traces.batches.length = 0;
    metrics.batches.length = 0;
    const pb = await post('/v1/traces', encodeOtlpRequest(sampleTraces(), 'protobuf'), { 'content-type': 'application/x-protobuf' });
    expect(pb.status).toBe(200);
    expect(pb.headers.get('content-type')).toBe('application/x-protobuf');
    const js = await post('/v1/traces', encodeOtlpRequest(sampleTraces(), 'json'), { 'content-type': 'application/json' });
    expect(js.status).toBe(200);
    expect(await js.json()).toEqual({});
    const gz = await post('/v1/metrics', gzipSync(encodeOtlpRequest(sampleMetrics(), 'protobuf')), { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' });
    expect(gz.status).toBe(200);
    expect(traces.batches).toHaveLength(2);
    expect(metrics.batches).toHaveLength(1);
    expect(traces.batches[1]).toMatchObject({ resourceSpans: [{ scopeSpans: [{ spans: [{ name: 'GET /cart' }, { parentSpanId: 'b7ad6b7169203331' }] }] }] });
    // The file's first requests: 2 + 2 spans and 3 points.
    expect(await counterValue(telemetry, 'sonde_receiver_accepted_items_total', { receiver: 'otlp' })).toBe(7);
  });

  it('answers garbage and truncated protobuf with 400 and a google.rpc.Status naming the code', async () => {
    const before = await malformedCount('http');
    const garbage = await post('/v1/traces', Buffer.from('\xff\xff\xff garbage'), { 'content-type': 'application/x-protobuf' });
    expect(garbage.status).toBe(400);
    const status = OtlpTypes.RpcStatus.decode(new Uint8Array(await garbage.arrayBuffer())) as unknown as { code: number; message: string };
    expect(status.code).toBe(3);
    expect(status.message).toContain('SONDE_OTLP_MALFORMED');
    const full = encodeOtlpRequest(sampleTraces(), 'protobuf');
    const truncated = await post('/v1/traces', full.subarray(0, full.length - 5), { 'content-type': 'application/x-protobuf' });
    expect(truncated.status).toBe(400);
    const badJson = await post('/v1/metrics', Buffer.from('{"resourceMetrics": [{'), { 'content-type': 'application/json' });
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as { message: string }).message).toContain('SONDE_OTLP_MALFORMED');
    const badGzip = await post('/v1/traces', Buffer.from('not gzip'), { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' });
    expect(badGzip.status).toBe(400);
    expect(await malformedCount('http')).toBe(before + 4);
  });

  it('answers oversized bodies (as sent or once decompressed) with 413', async () => {
    const big = Buffer.alloc(200 * 1024, 7);
    const r1 = await post('/v1/traces', big, { 'content-type': 'application/x-protobuf' });
    expect(r1.status).toBe(413);
    // 64 KiB limit, a gzip bomb of ~1 MiB zeros that is tiny on the wire.
    const bomb = gzipSync(Buffer.alloc(1024 * 1024));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const r2 = await post('/v1/traces', bomb, { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' });
    expect(r2.status).toBe(413);
    const status = OtlpTypes.RpcStatus.decode(new Uint8Array(await r2.arrayBuffer())) as unknown as { code: number; message: string };
    expect(status.code).toBe(8); // RESOURCE_EXHAUSTED
    expect(status.message).toContain('SONDE_OTLP_TOO_LARGE');
  });

  it('answers wrong content type 415, wrong path 404, wrong method 405', async () => {
    expect((await post('/v1/traces', Buffer.from('x'), { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await post('/v1/logs', Buffer.from('x'), { 'content-type': 'application/json' })).status).toBe(404);
    expect((await fetch(`${base}/v1/traces`)).status).toBe(405);
  });

  it('maps downstream errors: retryable to 503, permanent to 400', async () => {
    const refusedBefore = await counterValue(telemetry, 'sonde_receiver_refused_items_total', { receiver: 'otlp' });
    traces.failWith = retryableError('SONDE_QUEUE_FULL', 'full', { retryAfterMs: 3000 });
    const r1 = await post('/v1/traces', encodeOtlpRequest(sampleTraces(), 'protobuf'), { 'content-type': 'application/x-protobuf' });
    expect(r1.status).toBe(503);
    expect(r1.headers.get('retry-after')).toBe('3');
    traces.failWith = permanentError('SONDE_EXPORT_PERMANENT', 'no');
    const r2 = await post('/v1/traces', encodeOtlpRequest(sampleTraces(), 'json'), { 'content-type': 'application/json' });
    expect(r2.status).toBe(400);
    traces.failWith = undefined;
    expect(await counterValue(telemetry, 'sonde_receiver_refused_items_total', { receiver: 'otlp' })).toBe(refusedBefore + 4); // 2 + 2 spans
  });

  it('reports unsupported metric types as partial success', async () => {
    const body = JSON.stringify({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 's', summary: { dataPoints: [{}, {}] } }] }] }] });
    const r = await post('/v1/metrics', Buffer.from(body), { 'content-type': 'application/json' });
    expect(r.status).toBe(200);
    const json = (await r.json()) as { partialSuccess: { rejectedDataPoints: number; errorMessage: string } };
    expect(json.partialSuccess.rejectedDataPoints).toBe(2);
    expect(json.partialSuccess.errorMessage).toContain('SONDE_OTLP_UNSUPPORTED_METRIC');
  });
});

describe('otlp receiver over gRPC', () => {
  it('accepts an export and answers INVALID_ARGUMENT to garbage, then keeps serving', async () => {
    traces.batches.length = 0;
    const ok = await grpcCall('traces', encodeOtlpRequest(sampleTraces(), 'protobuf'));
    expect(ok.err).toBeNull();
    const before = await malformedCount('grpc');
    const bad = await grpcCall('traces', Buffer.from([0x0a, 0xff, 0xff, 0x01]));
    expect(bad.err?.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(bad.err?.details).toContain('SONDE_OTLP_MALFORMED');
    const okAgain = await grpcCall('metrics', encodeOtlpRequest(sampleMetrics(), 'protobuf'));
    expect(okAgain.err).toBeNull();
    expect(traces.batches).toHaveLength(1);
    expect(await malformedCount('grpc')).toBe(before + 1);
  });

  it('refuses messages over max_recv_msg_size and maps downstream retryable errors to UNAVAILABLE', async () => {
    const big = await grpcCall('traces', Buffer.alloc(200 * 1024, 1));
    expect(big.err?.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    traces.failWith = retryableError('SONDE_EXPORT_RETRYABLE', 'backend down');
    const down = await grpcCall('traces', encodeOtlpRequest(sampleTraces(), 'protobuf'));
    expect(down.err?.code).toBe(GrpcStatus.UNAVAILABLE);
    traces.failWith = undefined;
  });

  it('still serves HTTP after all of the above', async () => {
    const r = await post('/v1/traces', encodeOtlpRequest(sampleTraces(), 'protobuf'), { 'content-type': 'application/x-protobuf' });
    expect(r.status).toBe(200);
  });
});

describe('otlp receiver under memory pressure', () => {
  it('refuses before pushing: HTTP 503 and gRPC UNAVAILABLE carrying SONDE_MEMORY_LIMIT_EXCEEDED, counted, nothing reaches the pipeline; accepts again once the pressure ends', async () => {
    const t = new SelfTelemetry({ processMetrics: false });
    const sink = new CaptureConsumer();
    let refusing = true;
    const r = await startReceiver({ traces: sink }, t, '64KiB', { shouldRefuse: () => refusing });
    const client = new Client(`127.0.0.1:${r.grpcPort}`, credentials.createInsecure());
    try {
      const body = encodeOtlpRequest(sampleTraces(), 'protobuf');
      const items = sampleTraces().resourceSpans[0]!.scopeSpans[0]!.spans.length;
      const http = await fetch(`http://127.0.0.1:${r.httpPort}/v1/traces`, { method: 'POST', body: body as unknown as RequestInit['body'], headers: { 'content-type': 'application/x-protobuf' } });
      expect(http.status).toBe(503);
      const status = OtlpTypes.RpcStatus.decode(new Uint8Array(await http.arrayBuffer())) as unknown as { message: string };
      expect(status.message).toContain('SONDE_MEMORY_LIMIT_EXCEEDED');
      const grpc = await new Promise<ServiceError | null>((resolve) =>
        client.makeUnaryRequest(GRPC_EXPORT_METHODS.traces, (b: Uint8Array) => Buffer.from(b), (b: Buffer) => b, body, new Metadata(), {}, (err) => resolve(err)),
      );
      expect(grpc?.code).toBe(GrpcStatus.UNAVAILABLE);
      expect(grpc?.details).toContain('SONDE_MEMORY_LIMIT_EXCEEDED');
      expect(sink.batches).toHaveLength(0);
      expect(await counterValue(t, 'sonde_receiver_refused_items_total', { receiver: 'otlp' })).toBe(2 * items);
      refusing = false;
      const ok = await fetch(`http://127.0.0.1:${r.httpPort}/v1/traces`, { method: 'POST', body: body as unknown as RequestInit['body'], headers: { 'content-type': 'application/x-protobuf' } });
      expect(ok.status).toBe(200);
      expect(sink.batches).toHaveLength(1);
    } finally {
      client.close();
      await r.receiver.shutdown();
    }
  });
});
