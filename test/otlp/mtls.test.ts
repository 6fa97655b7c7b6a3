// Mutual TLS: local servers that REQUIRE a client certificate signed by their CA. Both exporters,
// given tls.ca_file + cert_file + key_file, get their spans through; without a client certificate,
// or with one from a CA the server does not trust, they are refused and counted as failed.
import { ServerCredentials } from '@grpc/grpc-js';
import { createServer, type Server as HttpsServer } from 'node:https';
import { basename } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Exporter } from '../../src/component/types.js';
import { otlpExporterFactory } from '../../src/exporters/otlp/factory.js';
import { otlpHttpExporterFactory } from '../../src/exporters/otlphttp/factory.js';
import { decodeOtlpRequest } from '../../src/pdata/otlp/decode.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import { freePort } from '../helpers/free-port.js';
import { makePki, type TestPki } from './certs.js';
import { startGrpcBackend, type GrpcBackend } from './fake-backends.js';
import { sampleTraces } from './fixtures.js';
import { NO_RETRY, counterValue, settingsFor } from './harness.js';

const telemetry = new SelfTelemetry({ processMetrics: false });

const cn = (subject: { CN?: string | string[] } | undefined): string | undefined => [subject?.CN].flat()[0];

/** What a server saw: the client certificate's CN and the spans of each request. */
interface Seen {
  clientCn: string | undefined;
  spans: number;
}

let pki: TestPki;
let https: HttpsServer;
let httpsUrl: string;
const httpsSeen: Seen[] = [];
let grpc: GrpcBackend;
const grpcSeen: Seen[] = [];

beforeAll(async () => {
  pki = makePki();
  https = createServer({ cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(Buffer.concat(chunks)) : Buffer.concat(chunks);
      httpsSeen.push({ clientCn: cn(peer.subject), spans: decodeOtlpRequest('traces', body, 'protobuf').items });
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => https.listen(port, '127.0.0.1', r));
  httpsUrl = `https://127.0.0.1:${port}`;

  grpc = await startGrpcBackend(ServerCredentials.createSsl(pki.ca.cert, [{ cert_chain: pki.server.cert, private_key: pki.server.key }], true), (signal, request, call) => {
    grpcSeen.push({ clientCn: cn(call.getAuthContext().sslPeerCertificate?.subject), spans: decodeOtlpRequest(signal, request, 'protobuf').items });
    return Buffer.alloc(0);
  });
});

afterAll(async () => {
  await new Promise((r) => (https ? https.close(r) : r(undefined)));
  grpc?.close();
  pki?.dispose();
});

type Client = 'client' | 'none' | 'stranger';

function tlsConfig(client: Client) {
  const tls = { insecure: false, insecure_skip_verify: false, ca_file: pki.ca.certFile };
  if (client === 'client') return { ...tls, cert_file: pki.client.certFile, key_file: pki.client.keyFile };
  if (client === 'stranger') return { ...tls, cert_file: pki.strangerClient.certFile, key_file: pki.strangerClient.keyFile };
  return tls;
}

const exporters = {
  otlp: (key: string, client: Client): Exporter =>
    otlpExporterFactory.create(settingsFor(key, telemetry), {
      ...otlpExporterFactory.createDefaultConfig(),
      endpoint: grpc.endpoint,
      tls: tlsConfig(client),
      timeout: '5s',
      retry_on_failure: NO_RETRY,
    }),
  otlphttp: (key: string, client: Client): Exporter =>
    otlpHttpExporterFactory.create(settingsFor(key, telemetry), {
      ...otlpHttpExporterFactory.createDefaultConfig(),
      endpoint: httpsUrl,
      tls: tlsConfig(client),
      timeout: '5s',
      retry_on_failure: NO_RETRY,
    }),
};

const seenBy = { otlp: grpcSeen, otlphttp: httpsSeen };

describe.each(['otlp', 'otlphttp'] as const)('%s with mutual TLS', (type) => {
  it('presents the client certificate from cert_file/key_file and its spans arrive', async () => {
    const seen = seenBy[type];
    seen.length = 0;
    const key = `${type}/mtls`;
    const e = exporters[type](key, 'client');
    await e.start();
    // Through the default sending queue: shutdown drains it, so the counts are final afterwards.
    await e.consume(sampleTraces());
    await e.consume(sampleTraces('1bf7651916cd43dd8448eb211c80319d'));
    await e.shutdown();
    expect(seen).toEqual([
      { clientCn: 'sonde-client', spans: 2 },
      { clientCn: 'sonde-client', spans: 2 },
    ]);
    expect(await counterValue(telemetry, 'sonde_exporter_sent_items_total', { exporter: key })).toBe(4);
    expect(await counterValue(telemetry, 'sonde_exporter_send_failed_items_total', { exporter: key })).toBe(0);
  });

  it('with insecure_skip_verify and no ca_file still presents the client certificate (relative paths resolved against the config directory)', async () => {
    const seen = seenBy[type];
    seen.length = 0;
    const key = `${type}/mtls-skip-verify`;
    const settings = { ...settingsFor(key, telemetry), configDir: pki.dir };
    const tls = { insecure: false, insecure_skip_verify: true, cert_file: basename(pki.client.certFile), key_file: basename(pki.client.keyFile) };
    const e =
      type === 'otlp'
        ? otlpExporterFactory.create(settings, { ...otlpExporterFactory.createDefaultConfig(), endpoint: grpc.endpoint, tls, retry_on_failure: NO_RETRY })
        : otlpHttpExporterFactory.create(settings, { ...otlpHttpExporterFactory.createDefaultConfig(), endpoint: httpsUrl, tls, retry_on_failure: NO_RETRY });
    await e.start();
    await e.consume(sampleTraces());
    await e.shutdown();
    expect(seen).toEqual([{ clientCn: 'sonde-client', spans: 2 }]);
    expect(await counterValue(telemetry, 'sonde_exporter_sent_items_total', { exporter: key })).toBe(2);
  });

  for (const client of ['none', 'stranger'] as const) {
    it(`is refused ${client === 'none' ? 'without a client certificate' : 'with a client certificate from an untrusted CA'} and counts the spans as failed`, async () => {
      const seen = seenBy[type];
      seen.length = 0;
      const key = `${type}/mtls-${client}`;
      const e = exporters[type](key, client);
      await e.start();
      await e.consume(sampleTraces());
      await e.shutdown();
      expect(seen).toEqual([]);
      expect(await counterValue(telemetry, 'sonde_exporter_sent_items_total', { exporter: key })).toBe(0);
      expect(await counterValue(telemetry, 'sonde_exporter_send_failed_items_total', { exporter: key })).toBe(2);
      expect(await counterValue(telemetry, 'sonde_exporter_queue_items', { exporter: key })).toBe(0);
    });
  }
});
