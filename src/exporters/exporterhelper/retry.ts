import type { BackoffPolicy } from './config.js';
import type { ExportResult } from './export-result.js';

/** Wait before retry number `attempt` (0-based): exponential, capped, with jitter from `random` in [0,1). */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number): number {
  const base = Math.min(policy.maxMs, policy.initialMs * policy.multiplier ** attempt);
  const jitter = policy.randomization * base;
  return Math.max(0, Math.round(base - jitter + random() * 2 * jitter));
}

/** Resolves after `ms`, or early (false) when `signal` aborts. The timer does not keep the process alive. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    timer.unref();
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RetryHooks {
  /** Clock in ms (Date.now by default); injectable for tests. */
  now: () => number;
  random: () => number;
  sleep: (ms: number, signal: AbortSignal) => Promise<boolean>;
  /** Called before each wait, with the failed result and the wait chosen. */
  onRetry: (result: ExportResult, delayMs: number) => void;
}

/**
 * Runs `attempt` until it returns something other than `retryable`, the policy's elapsed-time
 * budget would be exceeded, or `signal` aborts. Returns the last result: a `retryable` result
 * coming back means the helper gave up. Retry-After / RetryInfo lengthen a wait, never shorten it.
 */
export async function withRetry(
  attempt: () => Promise<ExportResult>,
  policy: BackoffPolicy | undefined,
  signal: AbortSignal,
  hooks: RetryHooks,
): Promise<ExportResult> {
  const started = hooks.now();
  for (let n = 0; ; n++) {
    const result = await attempt();
    if (result.kind !== 'retryable' || policy === undefined || signal.aborted) return result;
    let delay = backoffDelay(policy, n, hooks.random);
    if (result.retryAfterMs !== undefined) delay = Math.max(delay, result.retryAfterMs);
    if (policy.maxElapsedMs > 0 && hooks.now() - started + delay > policy.maxElapsedMs) return result;
    hooks.onRetry(result, delay);
    if (!(await hooks.sleep(delay, signal))) return result;
  }
}
