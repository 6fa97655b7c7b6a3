// One remote-write HTTP request. The outcome says whether a retry can help: 2xx is done, 429 and
// 5xx (and connection errors) are retryable with the server's Retry-After, any other 4xx is
// permanent: the same bytes would be refused again.
import { permanentError, retryableError } from '../../errors/index.js';
import { compressBody, encodeWriteRequest, type WriteRequest } from './write-request.js';

export const REMOTE_WRITE_VERSION = '0.1.0';

export interface PushTarget {
  endpoint: string;
  headers: Readonly<Record<string, string>>;
  userAgent: string;
}

/** Retry-After as seconds or an HTTP date, in milliseconds; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const date = Date.parse(v);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

async function bodyExcerpt(res: Response): Promise<string> {
  try {
    const text = await res.text();
    return text.length > 300 ? `${text.slice(0, 300)}...` : text.trim();
  } catch {
    return '';
  }
}

/**
 * Sends one WriteRequest. Resolves on 2xx; rejects with a SondeError whose `retryable` tells the
 * retry layer what to do. `signal` aborts the request (the helper's timeout or shutdown).
 */
export async function sendWriteRequest(target: PushTarget, req: WriteRequest, signal?: AbortSignal): Promise<void> {
  const body = compressBody(encodeWriteRequest(req));
  let res: Response;
  try {
    res = await fetch(target.endpoint, {
      method: 'POST',
      headers: {
        ...target.headers,
        'Content-Encoding': 'snappy',
        'Content-Type': 'application/x-protobuf',
        'X-Prometheus-Remote-Write-Version': REMOTE_WRITE_VERSION,
        'User-Agent': target.userAgent,
      },
      body,
      signal: signal ?? null,
    });
  } catch (err) {
    const reason = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    throw retryableError('SONDE_PROMETHEUS_REMOTE_WRITE_UNAVAILABLE', `remote write to ${target.endpoint} failed: ${reason}`, {
      hint: 'Is the receiver running and reachable? Sonde retries with backoff.',
      cause: err,
    });
  }
  if (res.status >= 200 && res.status < 300) {
    await res.arrayBuffer().catch(() => undefined);
    return;
  }
  const excerpt = await bodyExcerpt(res);
  if (res.status === 429 || res.status >= 500) {
    const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
    throw retryableError('SONDE_PROMETHEUS_REMOTE_WRITE_UNAVAILABLE', `remote write to ${target.endpoint}: HTTP ${res.status} ${excerpt}`, {
      hint: 'The receiver is overloaded or failing; Sonde retries with backoff.',
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  throw permanentError('SONDE_PROMETHEUS_REMOTE_WRITE_REJECTED', `remote write to ${target.endpoint}: HTTP ${res.status} ${excerpt}`, {
    hint: 'The receiver refused this data for good (bad label, out-of-order or duplicate sample, auth); it is dropped and counted.',
  });
}
