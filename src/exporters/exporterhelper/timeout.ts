import type { TelemetryBatch } from '../../pdata/types.js';
import { resultFromError, retryable, type ExportResult, type PushFn } from './export-result.js';

/**
 * One attempt with a time limit: the push gets a signal that aborts on timeout or when `outer`
 * aborts (forced shutdown), and the attempt resolves then even if the push ignores its signal.
 * Never rejects. A timeout is retryable, as gRPC DEADLINE_EXCEEDED is in OTLP.
 */
export function attemptWithTimeout(push: PushFn, batch: TelemetryBatch, timeoutMs: number, outer: AbortSignal): Promise<ExportResult> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onOuterAbort: (() => void) | undefined;

  const stop = new Promise<ExportResult>((resolve) => {
    onOuterAbort = () => {
      controller.abort(outer.reason);
      resolve(retryable('export aborted: exporter shutting down'));
    };
    if (outer.aborted) onOuterAbort();
    else outer.addEventListener('abort', onOuterAbort, { once: true });
    if (timeoutMs > 0) {
      timer = setTimeout(() => {
        controller.abort(new Error('export timed out'));
        resolve(retryable(`export timed out after ${timeoutMs}ms`));
      }, timeoutMs);
      timer.unref();
    }
  });
  const attempt = Promise.resolve()
    .then(() => push(batch, controller.signal))
    .catch(resultFromError);
  return Promise.race([attempt, stop]).finally(() => {
    if (timer) clearTimeout(timer);
    if (onOuterAbort) outer.removeEventListener('abort', onOuterAbort);
  });
}
