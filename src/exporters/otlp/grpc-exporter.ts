// OTLP over gRPC: one unary Export call per batch, with the request bytes encoded by
// pdata/otlp/encode.ts and passed through grpc-js untouched (no generated stubs needed).
import { Client, Metadata, credentials, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import type { CreateSettings, Exporter } from '../../component/types.js';
import { decodeExportResponse } from '../../pdata/otlp/decode.js';
import { encodeOtlpRequest } from '../../pdata/otlp/encode.js';
import type { Signal, TelemetryBatch } from '../../pdata/types.js';
import { createExporterHelper, retryable, SUCCESS, type ExportResult, type ExporterHelperConfig } from '../exporterhelper/index.js';
import { loadTlsMaterial, type ClientConfig } from './client-config.js';
import { resultFromGrpcError } from './grpc-status.js';

export interface OtlpGrpcConfig extends ClientConfig, ExporterHelperConfig {}

export const GRPC_EXPORT_METHODS: Record<Signal, string> = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
};

const GZIP = 2; // grpc-js CompressionAlgorithms.gzip
const passThrough = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** `host:port`, optionally with an http:// (plain text) or https:// (TLS) scheme, as the Collector accepts. */
export function parseGrpcEndpoint(endpoint: string): { target: string; scheme: 'http' | 'https' | undefined } {
  const m = /^(https?):\/\/(.*?)\/?$/.exec(endpoint.trim());
  if (m) return { target: m[2]!, scheme: m[1] as 'http' | 'https' };
  return { target: endpoint.trim(), scheme: undefined };
}

export function createOtlpGrpcExporter(settings: CreateSettings, config: OtlpGrpcConfig): Exporter {
  const { target, scheme } = parseGrpcEndpoint(config.endpoint);
  let client: Client | undefined;

  const start = async (): Promise<void> => {
    let creds: ChannelCredentials;
    if (config.tls.insecure || scheme === 'http') {
      creds = credentials.createInsecure();
    } else {
      const tls = await loadTlsMaterial(config.tls, settings.configDir);
      creds = credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null, config.tls.insecure_skip_verify ? { checkServerIdentity: () => undefined, rejectUnauthorized: false } : undefined);
    }
    client = new Client(target, creds, {
      ...(config.compression === 'gzip' ? { 'grpc.default_compression_algorithm': GZIP } : {}),
      'grpc.primary_user_agent': 'sonde',
      // grpc-js waits up to 2 minutes between reconnects by default; an exporter whose backend
      // restarts should notice within seconds (the retry layer already paces the exports).
      'grpc.max_reconnect_backoff_ms': 5000,
    });
  };

  const push = (batch: TelemetryBatch, signal: AbortSignal): Promise<ExportResult> => {
    if (!client) return Promise.resolve(retryable('gRPC client not started'));
    const body = encodeOtlpRequest(batch, 'protobuf');
    const metadata = new Metadata();
    for (const [k, v] of Object.entries(config.headers)) metadata.set(k.toLowerCase(), v);
    return new Promise<ExportResult>((resolve) => {
      const call = client!.makeUnaryRequest<Uint8Array, Buffer>(
        GRPC_EXPORT_METHODS[batch.signal],
        passThrough,
        (b: Buffer) => b,
        body,
        metadata,
        {},
        (err: ServiceError | null, response?: Buffer) => {
          signal.removeEventListener('abort', onAbort);
          if (err) return resolve(resultFromGrpcError(err));
          const partial = response ? decodeExportResponse(batch.signal, response, 'protobuf') : undefined;
          resolve(partial ? { kind: 'partial', rejected: partial.rejected, message: partial.message } : SUCCESS);
        },
      );
      // Timeout or forced shutdown: cancelling ends the call with CANCELLED (retryable).
      const onAbort = (): void => call.cancel();
      if (signal.aborted) call.cancel();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
  };

  return createExporterHelper({
    settings,
    config,
    push,
    start,
    shutdown: async () => {
      client?.close();
      client = undefined;
    },
  });
}
