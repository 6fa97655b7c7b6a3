// Shared settings of the fuzz suite. CI runs a bounded pass; a longer run is
//   SONDE_FUZZ_RUNS=100000 npx vitest run test/fuzz
// (SONDE_FUZZ_SEED=N replays a run; fast-check prints the seed and the shrunk input of a failure).
import { expect } from 'vitest';
import { SondeError } from '../../src/errors/index.js';
import { forceGc } from '../../src/processors/memorylimiter/memory-source.js';

/** Runs per property: the default keeps the whole suite well under a minute on 2 cores. */
export function fuzzRuns(ciDefault: number): number {
  const env = Number(process.env.SONDE_FUZZ_RUNS);
  return Number.isFinite(env) && env > 0 ? env : ciDefault;
}

/** fast-check parameters: run count, optional fixed seed, and a per-case time limit for async properties. */
export function fcParams(ciDefault: number, caseTimeoutMs = 5000): { numRuns: number; seed?: number; timeout: number } {
  const seed = Number(process.env.SONDE_FUZZ_SEED);
  return { numRuns: fuzzRuns(ciDefault), timeout: caseTimeoutMs, ...(Number.isFinite(seed) ? { seed } : {}) };
}

/** Parameters for fc.sample: `n` values, reproducible with SONDE_FUZZ_SEED. */
export function sampleParams(n: number): { numRuns: number; seed?: number } {
  const seed = Number(process.env.SONDE_FUZZ_SEED);
  return { numRuns: n, ...(Number.isFinite(seed) ? { seed } : {}) };
}

/** Vitest time limit for a fuzz test whose properties run `runs` cases of about `msPerCase`. */
export function testTimeout(runs: number, msPerCase: number): number {
  return Math.max(60_000, Math.ceil(fuzzRuns(runs) * msPerCase * 2));
}

/** The only acceptable failure of a parser: a SondeError carrying a stable SONDE_ code. */
export function expectSondeError(err: unknown): void {
  if (!(err instanceof SondeError)) throw new Error(`expected a SondeError, got ${err instanceof Error ? `${err.name}: ${err.message}\n${err.stack}` : String(err)}`);
  expect(err.code).toMatch(/^SONDE_[A-Z0-9_]+$/);
}

/** Heap in use after a full GC (forced without --expose-gc; see memory-source.ts). */
export function settledHeap(): number {
  forceGc();
  forceGc();
  return process.memoryUsage().heapUsed;
}

/**
 * Runs `work` in `rounds` rounds after a warm-up round and checks that heap after GC does not
 * keep growing: the growth from the end of round 1 to the end of the last round must stay under
 * `boundBytes` (retained garbage from a leak grows with every round).
 */
export async function expectNoLeak(work: () => void | Promise<void>, rounds: number, boundBytes: number): Promise<{ growth: number }> {
  await work();
  const before = settledHeap();
  for (let i = 0; i < rounds; i++) await work();
  const growth = settledHeap() - before;
  expect(growth, `heap grew by ${growth} bytes over ${rounds} rounds`).toBeLessThan(boundBytes);
  return { growth };
}
