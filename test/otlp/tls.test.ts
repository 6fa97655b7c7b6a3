// TLS and headers of the otlp / otlphttp exporters against local servers with a throwaway CA-less
// self-signed certificate for 127.0.0.1 (made with openssl by certs.ts). Mutual TLS: mtls.test.ts.
import { ServerCredentials } from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Exporter } from '../../src/component/types.js';
import { otlpExporterFactory } from '../../src/exporters/otlp/factory.js';
import { otlpHttpExporterFactory } from '../../src/exporters/otlphttp/factory.js';
import { decodeOtlpRequest } from '../../src/pdata/otlp/decode.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import { selfSignedCert } from './certs.js';
import { startGrpcBackend, type GrpcBackend } from './fake-backends.js';
import { NO_QUEUE, NO_RETRY, counterValue, settingsFor } from './harness.js';
import { sampleTraces } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'sonde-tls-'));
const { certFile, cert, key } = selfSignedCert(dir);
const telemetry = new SelfTelemetry({ processMetrics: false });
// Exporter settings shared by both "verifies the server" tests: trust the test CA, send `headers`.
const verifiedBy = (headers: Record<string, string>) => ({
  headers,
  tls: { insecure: false, insecure_skip_verify: false, ca_file: certFile },
  sending_queue: NO_QUEUE,
  retry_on_failure: NO_RETRY,
});
/** Starts the exporter, exports the two sample spans, and shuts it down. */
async function exportOnce(e: Exporter): Promise<void> {
  await e.start();
  await e.consume(sampleTraces());
  await e.shutdown();
}

let https: HttpsServer;
let httpsUrl: string;
const httpsSeen: { authorization?: string; spans: number }[] = [];
let grpc: GrpcBackend;
let grpcPort: number;
const grpcSeen: { authorization?: string; spans: number }[] = [];

beforeAll(async () => {
  https = createServer({ cert, key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      httpsSeen.push({ authorization: req.headers.authorization, spans: decodeOtlpRequest('traces', Buffer.concat(chunks), 'protobuf').items });
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
  httpsUrl = `https://127.0.0.1:${(https.address() as AddressInfo).port}`;

  grpc = await startGrpcBackend(ServerCredentials.createSsl(null, [{ cert_chain: cert, private_key: key }]), (signal, request, call) => {
    grpcSeen.push({ authorization: call.metadata.get('authorization')[0] as string | undefined, spans: decodeOtlpRequest(signal, request, 'protobuf').items });
    return Buffer.alloc(0);
  });
  grpcPort = grpc.port;
});

afterAll(async () => {
  await new Promise((r) => https?.close(r));
  grpc?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('otlphttp over TLS', () => {
  it('verifies the server with tls.ca_file and sends the configured headers', async () => {
    httpsSeen.length = 0;
    const e = otlpHttpExporterFactory.create(settingsFor('otlphttp/tls', telemetry), {
      ...otlpHttpExporterFactory.createDefaultConfig(),
      endpoint: httpsUrl,
      compression: 'none',
      ...verifiedBy({ authorization: 'Bearer tls-token' }),
    });
    await exportOnce(e);
    expect(httpsSeen).toEqual([{ authorization: 'Bearer tls-token', spans: 2 }]);
  });

  it('refuses a server it cannot verify, unless insecure_skip_verify', async () => {
    httpsSeen.length = 0;
    const base = { ...otlpHttpExporterFactory.createDefaultConfig(), endpoint: httpsUrl, compression: 'none' as const, sending_queue: NO_QUEUE, retry_on_failure: NO_RETRY };
    const strict = otlpHttpExporterFactory.create(settingsFor('otlphttp/strict', telemetry), base);
    await strict.start();
    await expect(strict.consume(sampleTraces())).rejects.toMatchObject({ code: 'SONDE_EXPORT_RETRYABLE' });
    await strict.shutdown();
    expect(httpsSeen).toHaveLength(0);
    const lax = otlpHttpExporterFactory.create(settingsFor('otlphttp/lax', telemetry), { ...base, tls: { insecure: false, insecure_skip_verify: true } });
    await lax.start();
    await lax.consume(sampleTraces());
    await lax.shutdown();
    expect(httpsSeen).toHaveLength(1);
  });

  it('fails to start with SONDE_OTLP_TLS_CONFIG when a TLS file is missing or the key is absent', async () => {
    const base = { ...otlpHttpExporterFactory.createDefaultConfig(), endpoint: httpsUrl };
    const missing = otlpHttpExporterFactory.create(settingsFor('otlphttp/missing', telemetry), { ...base, tls: { insecure: false, insecure_skip_verify: false, ca_file: join(dir, 'nope.pem') } });
    await expect(missing.start()).rejects.toMatchObject({ code: 'SONDE_OTLP_TLS_CONFIG' });
    await missing.shutdown();
    const halfPair = otlpHttpExporterFactory.create(settingsFor('otlphttp/half', telemetry), { ...base, tls: { insecure: false, insecure_skip_verify: false, cert_file: certFile } });
    await expect(halfPair.start()).rejects.toMatchObject({ code: 'SONDE_OTLP_TLS_CONFIG' });
    await halfPair.shutdown();
  });
});

describe('otlp (gRPC) over TLS', () => {
  it('verifies the server with tls.ca_file and sends headers as metadata', async () => {
    grpcSeen.length = 0;
    const e = otlpExporterFactory.create(settingsFor('otlp/tls', telemetry), {
      ...otlpExporterFactory.createDefaultConfig(),
      endpoint: `127.0.0.1:${grpcPort}`,
      ...verifiedBy({ Authorization: 'Bearer grpc-token' }),
    });
    await exportOnce(e);
    expect(grpcSeen).toEqual([{ authorization: 'Bearer grpc-token', spans: 2 }]);
    expect(await counterValue(telemetry, 'sonde_exporter_sent_items_total', { exporter: 'otlp/tls' })).toBe(2);
  });

  it('does not reach a TLS server in plain text', async () => {
    grpcSeen.length = 0;
    const e = otlpExporterFactory.create(settingsFor('otlp/plain', telemetry), {
      ...otlpExporterFactory.createDefaultConfig(),
      endpoint: `127.0.0.1:${grpcPort}`,
      tls: { insecure: true, insecure_skip_verify: false },
      timeout: '2s',
      sending_queue: NO_QUEUE,
      retry_on_failure: NO_RETRY,
    });
    await e.start();
    await expect(e.consume(sampleTraces())).rejects.toMatchObject({ code: 'SONDE_EXPORT_RETRYABLE' });
    await e.shutdown();
    expect(grpcSeen).toHaveLength(0);
  });
});
