import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Exporter } from '../../src/component/types.js';
import { retryableError } from '../../src/errors/index.js';
import { otlpExporterFactory } from '../../src/exporters/otlp/factory.js';
import { otlpHttpExporterFactory } from '../../src/exporters/otlphttp/factory.js';
import { decodeOtlpRequest } from '../../src/pdata/otlp/decode.js';
import type { TelemetryBatch } from '../../src/pdata/types.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import type { OtlpReceiver } from '../../src/receivers/otlp/otlp-receiver.js';
import { CaptureConsumer, counterValue, settingsFor, startReceiver } from './harness.js';
import { sampleMetrics, sampleTraces } from './fixtures.js';

const telemetry = new SelfTelemetry({ processMetrics: false });
const traces = new CaptureConsumer();
const metrics = new CaptureConsumer();
let receiver: OtlpReceiver;
let grpcPort: number;
let httpPort: number;

beforeAll(async () => {
  ({ receiver, grpcPort, httpPort } = await startReceiver({ traces, metrics }, telemetry));
});
afterAll(async () => {
  await receiver?.shutdown();
});

const fastRetry = { enabled: true, initial_interval: '10ms', max_interval: '50ms', max_elapsed_time: '10s' };

function withoutFlags(batch: TelemetryBatch): TelemetryBatch {
  if (batch.signal === 'traces') for (const rs of batch.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) delete s.flags;
  return batch;
}

async function roundTrip(exporter: Exporter): Promise<void> {
  traces.batches.length = 0;
  metrics.batches.length = 0;
  await exporter.start();
  await exporter.consume(sampleTraces());
  await exporter.consume(sampleMetrics());
  await exporter.shutdown();
  // The receiver notes who sent each request (for k8sattributes' association by connection);
  // that context is not part of the data, which must arrive unchanged.
  expect([...traces.batches, ...metrics.batches].map((b) => b.clientAddress)).toEqual(['127.0.0.1', '127.0.0.1']);
  expect(traces.batches.map(withoutFlags).map(withoutClient)).toEqual([sampleTraces()]);
  expect(metrics.batches.map(withoutClient)).toEqual([sampleMetrics()]);
}

function withoutClient(batch: TelemetryBatch): TelemetryBatch {
  const { clientAddress: _sender, ...data } = batch;
  return data as TelemetryBatch;
}

describe('exporters into Sonde\'s own receiver', () => {
  it('otlp (gRPC, gzip) delivers traces and metrics unchanged', async () => {
    const config = { ...otlpExporterFactory.createDefaultConfig(), endpoint: `127.0.0.1:${grpcPort}`, retry_on_failure: fastRetry };
    config.tls.insecure = true;
    await roundTrip(otlpExporterFactory.create(settingsFor('otlp/loop', telemetry), config));
    expect(await counterValue(telemetry, 'sonde_exporter_sent_items_total', { exporter: 'otlp/loop' })).toBe(5);
  });

  for (const encoding of ['proto', 'json'] as const) {
    it(`otlphttp (${encoding}) delivers traces and metrics unchanged`, async () => {
      const config = { ...otlpHttpExporterFactory.createDefaultConfig(), endpoint: `http://127.0.0.1:${httpPort}`, encoding, retry_on_failure: fastRetry };
      await roundTrip(otlpHttpExporterFactory.create(settingsFor(`otlphttp/${encoding}`, telemetry), config));
      expect(await counterValue(telemetry, 'sonde_exporter_sent_items_total', { exporter: `otlphttp/${encoding}` })).toBe(5);
    });
  }

  it('otlp (gRPC) retries while the receiver answers UNAVAILABLE', async () => {
    traces.batches.length = 0;
    let failures = 2;
    const real = traces.consume.bind(traces);
    traces.consume = async (b) => {
      if (failures-- > 0) throw retryableError('SONDE_EXPORT_RETRYABLE', 'pipeline busy');
      return real(b);
    };
    const config = { ...otlpExporterFactory.createDefaultConfig(), endpoint: `http://127.0.0.1:${grpcPort}`, retry_on_failure: fastRetry };
    const exporter = otlpExporterFactory.create(settingsFor('otlp/retry', telemetry), config);
    await exporter.start();
    await exporter.consume(sampleTraces());
    await exporter.shutdown();
    traces.consume = real;
    expect(traces.batches).toHaveLength(1);
    expect(await counterValue(telemetry, 'sonde_exporter_retries_total', { exporter: 'otlp/retry' })).toBe(2);
  });
});

describe('otlphttp against a scripted backend', () => {
  let server: Server;
  let url: string;
  const seen: { status: number; headers: IncomingMessage['headers']; body: Buffer }[] = [];
  let script: { status: number; headers?: Record<string, string> }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const step = script.shift() ?? { status: 200 };
        seen.push({ status: step.status, headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(step.status, { 'content-type': 'application/json', ...step.headers });
        res.end(step.status === 200 ? '{}' : JSON.stringify({ code: 3, message: `scripted ${step.status}` }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  function exporter(key: string) {
    const config = {
      ...otlpHttpExporterFactory.createDefaultConfig(),
      endpoint: url,
      headers: { authorization: 'Bearer s3cret' },
      retry_on_failure: fastRetry,
      sending_queue: { enabled: false, queue_size: 10, num_consumers: 1, when_full: 'block' as const },
    };
    return otlpHttpExporterFactory.create(settingsFor(key, telemetry), config);
  }

  it('retries 429/502/503/504 (honouring Retry-After) and sends headers and gzip', async () => {
    seen.length = 0;
    script = [{ status: 429, headers: { 'retry-after': '0' } }, { status: 502 }, { status: 503 }, { status: 504 }, { status: 200 }];
    const e = exporter('otlphttp/scripted');
    await e.start();
    await e.consume(sampleTraces());
    await e.shutdown();
    expect(seen.map((s) => s.status)).toEqual([429, 502, 503, 504, 200]);
    const last = seen.at(-1)!;
    expect(last.headers.authorization).toBe('Bearer s3cret');
    expect(last.headers['content-encoding']).toBe('gzip');
    expect(last.headers['content-type']).toBe('application/x-protobuf');
    expect(decodeOtlpRequest('traces', gunzipSync(last.body), 'protobuf').items).toBe(2);
    expect(await counterValue(telemetry, 'sonde_exporter_retries_total', { exporter: 'otlphttp/scripted' })).toBe(4);
    expect(await counterValue(telemetry, 'sonde_exporter_sent_items_total', { exporter: 'otlphttp/scripted' })).toBe(2);
  });

  it('does not retry 400 and reports the backend message', async () => {
    seen.length = 0;
    script = [{ status: 400 }];
    const e = exporter('otlphttp/bad');
    await e.start();
    await expect(e.consume(sampleTraces())).rejects.toMatchObject({ code: 'SONDE_EXPORT_PERMANENT', message: expect.stringContaining('scripted 400') });
    await e.shutdown();
    expect(seen).toHaveLength(1);
    expect(await counterValue(telemetry, 'sonde_exporter_send_failed_items_total', { exporter: 'otlphttp/bad' })).toBe(2);
  });

  it('treats a refused connection as retryable', async () => {
    // The retry budget must outlast a first attempt slowed by a loaded machine: with 100 ms, a
    // first attempt slower than ~90 ms would leave no room for a retry (retries_total stays 0).
    const config = { ...otlpHttpExporterFactory.createDefaultConfig(), endpoint: 'http://127.0.0.1:9', retry_on_failure: { ...fastRetry, max_elapsed_time: '2s' } };
    config.sending_queue.enabled = false;
    const e = otlpHttpExporterFactory.create(settingsFor('otlphttp/refused', telemetry), config);
    await e.start();
    await expect(e.consume(sampleTraces())).rejects.toMatchObject({ code: 'SONDE_EXPORT_RETRYABLE' });
    await e.shutdown();
    expect(await counterValue(telemetry, 'sonde_exporter_retries_total', { exporter: 'otlphttp/refused' })).toBeGreaterThan(0);
  });
});
