// OTLP over HTTP: POST of an ExportTrace/MetricsServiceRequest, protobuf or JSON, to
// {endpoint}/v1/traces and {endpoint}/v1/metrics.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { CreateSettings, Exporter } from '../../component/types.js';
import { decodeExportResponse } from '../../pdata/otlp/decode.js';
import { encodeOtlpRequest } from '../../pdata/otlp/encode.js';
import type { Signal, TelemetryBatch } from '../../pdata/types.js';
import { createExporterHelper, retryable, SUCCESS, type ExportResult, type ExporterHelperConfig } from '../exporterhelper/index.js';
import { loadTlsMaterial, type ClientConfig } from '../otlp/client-config.js';
import { errorBodyMessage, resultFromHttpStatus } from './http-status.js';

const gzipAsync = promisify(gzip);

export type HttpEncoding = 'proto' | 'json';

export interface OtlpHttpConfig extends ClientConfig, ExporterHelperConfig {
  traces_endpoint?: string;
  metrics_endpoint?: string;
  encoding: HttpEncoding;
}

/** The URL per signal: an explicit *_endpoint wins, else endpoint + /v1/{signal}. */
export function signalUrls(config: Pick<OtlpHttpConfig, 'endpoint' | 'traces_endpoint' | 'metrics_endpoint'>): Record<Signal, URL> {
  const base = config.endpoint.replace(/\/+$/, '');
  return {
    traces: new URL(config.traces_endpoint ?? `${base}/v1/traces`),
    metrics: new URL(config.metrics_endpoint ?? `${base}/v1/metrics`),
  };
}

/** Response bodies are read only for messages and partial success: keep at most this much. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

export function createOtlpHttpExporter(settings: CreateSettings, config: OtlpHttpConfig): Exporter {
  let urls: Record<Signal, URL> | undefined;
  const format = config.encoding === 'json' ? 'json' : 'protobuf';
  const contentType = format === 'json' ? 'application/json' : 'application/x-protobuf';
  let httpAgent: HttpAgent | undefined;
  let httpsAgent: HttpsAgent | undefined;

  const start = async (): Promise<void> => {
    urls = signalUrls(config);
    httpAgent = new HttpAgent({ keepAlive: true });
    const needsTls = urls.traces.protocol === 'https:' || urls.metrics.protocol === 'https:';
    if (needsTls) {
      const tls = await loadTlsMaterial(config.tls, settings.configDir);
      httpsAgent = new HttpsAgent({ keepAlive: true, ...tls, rejectUnauthorized: !config.tls.insecure_skip_verify });
    }
  };

  const push = async (batch: TelemetryBatch, signal: AbortSignal): Promise<ExportResult> => {
    if (!urls) return retryable('otlphttp exporter not started');
    const url = urls[batch.signal];
    let body: Uint8Array = encodeOtlpRequest(batch, format);
    const headers: Record<string, string | number> = { ...config.headers, 'content-type': contentType, 'user-agent': 'sonde' };
    if (config.compression === 'gzip') {
      body = await gzipAsync(body);
      headers['content-encoding'] = 'gzip';
    }
    headers['content-length'] = body.byteLength;
    const tls = url.protocol === 'https:';
    const send = tls ? httpsRequest : httpRequest;
    return new Promise<ExportResult>((resolve) => {
      const req = send(url, { method: 'POST', headers, agent: tls ? httpsAgent : httpAgent, signal }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= MAX_RESPONSE_BYTES) chunks.push(c);
        });
        res.on('error', (err) => resolve(retryable(`reading response from ${url.href}: ${err.message}`, undefined, err)));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const payload = Buffer.concat(chunks);
          if (status >= 200 && status < 300) {
            const respFormat = res.headers['content-type']?.includes('json') ? 'json' : 'protobuf';
            const partial = decodeExportResponse(batch.signal, payload, respFormat);
            return resolve(partial ? { kind: 'partial', rejected: partial.rejected, message: partial.message } : SUCCESS);
          }
          const retryAfter = res.headers['retry-after'];
          resolve(resultFromHttpStatus(status, Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, errorBodyMessage(payload, res.headers['content-type'])));
        });
      });
      // Connection refused/reset, DNS failure, abort: the backend may be back later.
      req.on('error', (err) => resolve(retryable(`POST ${url.href}: ${err.message}`, undefined, err)));
      req.end(body);
    });
  };

  return createExporterHelper({
    settings,
    config,
    push,
    start,
    shutdown: async () => {
      httpAgent?.destroy();
      httpsAgent?.destroy();
    },
  });
}
