// Waiting for something to happen in tests: poll a condition with a bound, never sleep a fixed
// time and hope. One loop serves every area; the three entry points differ only in what they
// give back when the bound passes.

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Reads `read()` every `intervalMs` until `done(value)` holds or `timeoutMs` has passed, and
 * returns the last value read either way, so the caller's assertion shows what was really seen.
 */
export async function pollValue<T>(read: () => T | Promise<T>, done: (value: T) => boolean, timeoutMs: number, intervalMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() >= end) return value;
    await sleep(intervalMs);
  }
}

/** Polls `check` until it holds (true) or `timeoutMs` has passed (false): the caller asserts. */
export function pollUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  return pollValue(check, Boolean, timeoutMs, intervalMs);
}

/** Polls `check` until it holds; throws "timed out after N ms waiting for <what>" if it never does. */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<void> {
  if (!(await pollUntil(check, timeoutMs, intervalMs))) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
