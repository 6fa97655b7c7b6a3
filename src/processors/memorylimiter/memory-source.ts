// What the limiter measures, and how it releases memory.
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Resident memory of this process in bytes: what the kernel's OOM killer and a container
 * memory limit act on. It covers the V8 heap and everything outside it (Buffers, native
 * libraries, LMDB pages).
 */
export function residentBytes(): number {
  return process.memoryUsage.rss();
}

/** Memory available to this process: the cgroup (v2, else v1) limit when one is set, else the machine's. */
export function availableBytes(): number {
  const machine = totalmem();
  for (const file of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    try {
      const text = readFileSync(file, 'utf8').trim();
      const n = Number(text);
      if (text !== 'max' && Number.isFinite(n) && n > 0 && n < machine) return n;
    } catch {
      // not in such a cgroup
    }
  }
  return machine;
}

let gcFn: (() => void) | null | undefined;

/**
 * Runs a full garbage collection so V8 gives unused heap pages back. Node hides `gc()` unless
 * started with --expose-gc; setting the flag at run time and fetching `gc` from a fresh context
 * exposes it without a command-line flag. Returns false when no GC could be forced.
 */
export function forceGc(): boolean {
  if (gcFn === undefined) {
    const existing = (globalThis as { gc?: () => void }).gc;
    if (typeof existing === 'function') gcFn = existing;
    else {
      try {
        setFlagsFromString('--expose-gc');
        gcFn = runInNewContext('gc') as () => void;
      } catch {
        gcFn = null;
      }
    }
  }
  if (!gcFn) return false;
  gcFn();
  return true;
}
