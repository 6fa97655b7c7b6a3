import { SondeError, permanentError, retryableError } from '../../errors/index.js';
import type { TelemetryBatch } from '../../pdata/types.js';

/**
 * What one export attempt achieved. The retry layer acts only on `retryable`; a partial
 * success is final (the backend kept the rest) and its rejected items are counted as failed.
 */
export type ExportResult =
  | { readonly kind: 'success' }
  | { readonly kind: 'partial'; readonly rejected: number; readonly message: string }
  | { readonly kind: 'retryable'; readonly error: SondeError; readonly retryAfterMs?: number }
  | { readonly kind: 'permanent'; readonly error: SondeError };

/**
 * Sends one batch once. Must honour `signal` (aborted on timeout or forced shutdown) and should
 * return a result rather than throw; a thrown SondeError is mapped by its `retryable` flag, and any
 * other thrown value counts as a permanent failure.
 */
export type PushFn = (batch: TelemetryBatch, signal: AbortSignal) => Promise<ExportResult>;

export const SUCCESS: ExportResult = Object.freeze({ kind: 'success' });

export function retryable(message: string, retryAfterMs?: number, cause?: unknown): ExportResult {
  const error = retryableError('SONDE_EXPORT_RETRYABLE', message, { cause, retryAfterMs });
  return retryAfterMs === undefined ? { kind: 'retryable', error } : { kind: 'retryable', error, retryAfterMs };
}

export function permanent(message: string, cause?: unknown): ExportResult {
  return { kind: 'permanent', error: permanentError('SONDE_EXPORT_PERMANENT', message, { cause }) };
}

/** Maps whatever a push threw to a result. */
export function resultFromError(err: unknown): ExportResult {
  if (err instanceof SondeError) {
    if (err.retryable) {
      return err.retryAfterMs === undefined ? { kind: 'retryable', error: err } : { kind: 'retryable', error: err, retryAfterMs: err.retryAfterMs };
    }
    return { kind: 'permanent', error: err };
  }
  return permanent(`export failed: ${err instanceof Error ? err.message : String(err)}`, err);
}
