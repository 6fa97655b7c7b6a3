import { readFileSync } from 'node:fs';
import { parseProcCgroup, type CgroupIdentity } from './cgroup-path.js';

interface Entry {
  identity: CgroupIdentity;
  expiresAt: number;
}

/**
 * pid -> container identity, read from `<procRoot>/<pid>/cgroup` and kept for `ttlMs` so a batch
 * of many resources costs one read per process, and a process that exited shortly before its data
 * arrives is still placed. Bounded: the oldest entries go first when `maxEntries` is reached.
 */
export class ProcessCgroupResolver {
  private readonly cache = new Map<number, Entry>();

  constructor(
    private readonly procRoot = '/proc',
    private readonly ttlMs = 10_000,
    private readonly maxEntries = 16_384,
    private readonly now: () => number = Date.now,
  ) {}

  resolve(pid: number): CgroupIdentity {
    const t = this.now();
    const hit = this.cache.get(pid);
    if (hit && hit.expiresAt > t) return hit.identity;
    let identity: CgroupIdentity;
    try {
      identity = parseProcCgroup(readFileSync(`${this.procRoot}/${pid}/cgroup`, 'utf8'));
    } catch {
      // The process is gone (or /proc is not ours): keep an expired answer if we had one.
      return hit?.identity ?? {};
    }
    if (hit) this.cache.delete(pid);
    else if (this.cache.size >= this.maxEntries) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(pid, { identity, expiresAt: t + this.ttlMs });
    return identity;
  }

  /** Forget a pid so the next resolve reads /proc again (used while waiting for metadata). */
  forget(pid: number): void {
    this.cache.delete(pid);
  }
}
