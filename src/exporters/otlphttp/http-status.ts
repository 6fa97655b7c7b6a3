// OTLP/HTTP outcomes -> export results, as the OTLP specification classifies them.
import { OtlpTypes } from '../../pdata/otlp/otlp-proto.js';
import { permanent, retryable, type ExportResult } from '../exporterhelper/index.js';

/** Status codes OTLP/HTTP says a client may retry. */
export const RETRYABLE_HTTP_STATUS: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/** Retry-After as delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The message of a google.rpc.Status error body (protobuf or JSON), else the body as text. */
export function errorBodyMessage(body: Buffer, contentType: string | undefined): string {
  if (body.length === 0) return '';
  try {
    if (contentType?.includes('protobuf')) {
      const status = OtlpTypes.RpcStatus.decode(body) as unknown as { message?: string };
      if (status.message) return status.message;
    } else if (contentType?.includes('json')) {
      const parsed = JSON.parse(body.toString('utf8')) as { message?: unknown };
      if (typeof parsed.message === 'string') return parsed.message;
    }
  } catch {
    // fall through to the raw text
  }
  return body.toString('utf8', 0, Math.min(body.length, 512)).replace(/[^\x20-\x7e]+/g, ' ').trim();
}

export function resultFromHttpStatus(status: number, retryAfter: string | undefined, message: string): ExportResult {
  const text = `HTTP ${status}${message ? `: ${message}` : ''}`;
  if (RETRYABLE_HTTP_STATUS.has(status)) return retryable(text, parseRetryAfter(retryAfter));
  return permanent(text);
}
