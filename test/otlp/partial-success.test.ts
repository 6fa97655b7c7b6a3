// Partial success from a backend: a fake OTLP backend (HTTP and gRPC) answers with an
// Export*ServiceResponse carrying partial_success { rejected, error_message }. The exporter counts
// n - k items sent and k failed, does not retry, and logs the backend's message.
//
// The response bytes are encoded here by hand from the published field numbers
// (Export*ServiceResponse.partial_success = 1; rejected_spans / rejected_data_points = 1;
// error_message = 2), not with Sonde's own proto definitions, so a wrong field number there fails.
import { ServerCredentials } from '@grpc/grpc-js';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Exporter } from '../../src/component/types.js';
import { otlpExporterFactory } from '../../src/exporters/otlp/factory.js';
import { otlpHttpExporterFactory } from '../../src/exporters/otlphttp/factory.js';
import type { TelemetryBatch } from '../../src/pdata/types.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import { freePort } from '../helpers/free-port.js';
import { captureLogger, startGrpcBackend, type GrpcBackend } from './fake-backends.js';
import { sampleMetrics, sampleTraces } from './fixtures.js';
import { NO_QUEUE, counterValue, settingsFor } from './harness.js';

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** protobuf bytes of Export{Trace,Metrics}ServiceResponse { partial_success { rejected, error_message } }. */
function partialSuccessProto(rejected: number, message: string): Buffer {
  const text = Buffer.from(message, 'utf8');
  const inner = [...(rejected > 0 ? [0x08, ...varint(rejected)] : []), ...(text.length > 0 ? [0x12, ...varint(text.length), ...text] : [])];
  return Buffer.from([0x0a, ...varint(inner.length), ...inner]);
}

/** OTLP/JSON of the same (int64 as a decimal string, as proto3 JSON writes it). */
function partialSuccessJson(signal: 'traces' | 'metrics', rejected: number, message: string): Buffer {
  const field = signal === 'traces' ? 'rejectedSpans' : 'rejectedDataPoints';
  return Buffer.from(JSON.stringify({ partialSuccess: { [field]: String(rejected), errorMessage: message } }));
}

/** What the backend answers next: how many items to reject and with which message. */
let answer = { rejected: 0, message: '' };
let requests = 0;
let http: Server;
let httpUrl: string;
let grpc: GrpcBackend;
const retry = { enabled: true, initial_interval: '10ms', max_interval: '10ms', max_elapsed_time: '5s' };

beforeAll(async () => {
  http = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      const signal = req.url === '/v1/metrics' ? 'metrics' : 'traces';
      if (req.headers['content-type'] === 'application/json') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(partialSuccessJson(signal, answer.rejected, answer.message));
      } else {
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(partialSuccessProto(answer.rejected, answer.message));
      }
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => http.listen(port, '127.0.0.1', r));
  httpUrl = `http://127.0.0.1:${port}`;
  grpc = await startGrpcBackend(ServerCredentials.createInsecure(), () => {
    requests++;
    return partialSuccessProto(answer.rejected, answer.message);
  });
});

afterAll(async () => {
  await new Promise((r) => (http ? http.close(r) : r(undefined)));
  grpc?.close();
});

type Variant = 'otlp' | 'otlphttp proto' | 'otlphttp json';

function exporter(variant: Variant, key: string, telemetry: SelfTelemetry, logger: ReturnType<typeof captureLogger>['logger']): Exporter {
  const settings = { ...settingsFor(key, telemetry), logger };
  const common = { compression: 'none' as const, sending_queue: NO_QUEUE, retry_on_failure: retry };
  if (variant === 'otlp') {
    return otlpExporterFactory.create(settings, { ...otlpExporterFactory.createDefaultConfig(), ...common, endpoint: `http://${grpc.endpoint}` });
  }
  const encoding = variant === 'otlphttp json' ? 'json' : 'proto';
  return otlpHttpExporterFactory.create(settings, { ...otlpHttpExporterFactory.createDefaultConfig(), ...common, endpoint: httpUrl, encoding });
}

const cases: { signal: 'traces' | 'metrics'; batch: () => TelemetryBatch; items: number; rejected: number; message: string }[] = [
  { signal: 'traces', batch: sampleTraces, items: 2, rejected: 1, message: 'span 00f067aa0ba902b7: attribute limit exceeded' },
  { signal: 'metrics', batch: sampleMetrics, items: 3, rejected: 2, message: 'two data points out of retention' },
  // rejected 0 with a message: a warning from the backend; everything was accepted.
  { signal: 'traces', batch: sampleTraces, items: 2, rejected: 0, message: 'spans accepted, but the service.name is deprecated' },
];

describe.each(['otlp', 'otlphttp proto', 'otlphttp json'] as const)('%s against a backend answering partial success', (variant) => {
  for (const c of cases) {
    it(`${c.signal}: ${c.rejected} of ${c.items} rejected -> sent ${c.items - c.rejected}, failed ${c.rejected}, no retry, warning logged`, async () => {
      const telemetry = new SelfTelemetry({ processMetrics: false });
      const { logger, lines } = captureLogger('warn');
      const key = `${variant.replace(' ', '_')}/partial`;
      const labels = { exporter: key };
      const e = exporter(variant, key, telemetry, logger);
      answer = { rejected: c.rejected, message: c.message };
      requests = 0;
      await e.start();
      await e.consume(c.batch());
      await e.shutdown();
      expect(requests).toBe(1);
      expect(await counterValue(telemetry, 'sonde_exporter_sent_items_total', labels)).toBe(c.items - c.rejected);
      expect(await counterValue(telemetry, 'sonde_exporter_send_failed_items_total', labels)).toBe(c.rejected);
      expect(await counterValue(telemetry, 'sonde_exporter_retries_total', labels)).toBe(0);
      const warnings = lines.filter((l) => l.level === 40);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ exporter: key, rejected: c.rejected, message: c.message });
      expect(String(warnings[0]!.msg)).toContain('SONDE_EXPORT_PARTIAL');
    });
  }

  it('an empty response (full success) counts everything sent and logs nothing', async () => {
    const telemetry = new SelfTelemetry({ processMetrics: false });
    const { logger, lines } = captureLogger('warn');
    const key = `${variant.replace(' ', '_')}/full`;
    const e = exporter(variant, key, telemetry, logger);
    answer = { rejected: 0, message: '' };
    await e.start();
    await e.consume(sampleTraces());
    await e.shutdown();
    expect(await counterValue(telemetry, 'sonde_exporter_sent_items_total', { exporter: key })).toBe(2);
    expect(await counterValue(telemetry, 'sonde_exporter_send_failed_items_total', { exporter: key })).toBe(0);
    expect(lines).toEqual([]);
  });
});
