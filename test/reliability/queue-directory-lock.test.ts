// One Sonde process per persistent queue directory: the store takes a pid lock file when it opens.
// Driven with real processes: a child holding a store refuses a second child (and a second `sonde
// run` on the same storage_dir) with SONDE_QUEUE_STORAGE_FAILED naming its pid; after SIGKILL of
// the holder, a new process takes the lock over and recovers what the holder queued.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { SondeError } from '../../src/errors/index.js';
import { LOCK_FILE } from '../../src/exporters/exporterhelper/persistent-queue/directory-lock.js';
import { PersistentQueueStore, queueDirectory } from '../../src/exporters/exporterhelper/persistent-queue-store.js';
import { pollValue } from '../helpers/poll.js';
import { startSonde, type SondeProcess } from '../helpers/sonde-process.js';
import { startAndWait, writeTracesConfig, type Ports } from './harness.js';
import { spanBatch } from './fixtures.js';

const silent = { warn: () => undefined, info: () => undefined, error: () => undefined };
const dirs: string[] = [];
const children: ChildProcess[] = [];
const sondes: SondeProcess[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sonde-lock-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await new Promise((r) => c.once('exit', r));
    }
  }
  for (const s of sondes.splice(0)) if (s.child.exitCode === null && s.child.signalCode === null) await s.stop('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const storeAt = (directory: string): PersistentQueueStore => new PersistentQueueStore({ directory, capacity: 100, maxBytes: 16 << 20, logger: silent });

function openError(directory: string): SondeError {
  try {
    void storeAt(directory);
  } catch (err) {
    if (err instanceof SondeError) return err;
    throw err;
  }
  throw new Error('the store opened');
}

const storeModule = fileURLToPath(new URL('../../dist/exporters/exporterhelper/persistent-queue-store.js', import.meta.url));

/**
 * A child process that opens the store in `dir` and prints one JSON line: {opened, pid, recovered}
 * or {code, message}. With `offer`, it queues that many one-span batches first; with `hold`, it
 * then keeps the store open until killed (printing its line once the batches are on disk).
 */
function storeChild(dir: string, opts: { offer?: number; hold?: boolean } = {}): { child: ChildProcess; line: () => Promise<Record<string, unknown>>; exited: Promise<number | null> } {
  const script = `
    const { PersistentQueueStore } = await import(${JSON.stringify(storeModule)});
    const silent = { warn() {}, info() {}, error() {} };
    let store;
    try {
      store = new PersistentQueueStore({ directory: ${JSON.stringify(dir)}, capacity: 100, maxBytes: 16 << 20, logger: silent });
    } catch (err) {
      process.stdout.write(JSON.stringify({ code: err.code, message: err.message }) + '\\n');
      process.exit(2);
    }
    for (let i = 0; i < ${opts.offer ?? 0}; i++) {
      const batch = { signal: 'traces', resourceSpans: [{ resource: { attributes: {} }, scopeSpans: [{ scope: { name: 's' }, spans: [{ traceId: '1'.repeat(32), spanId: (i + 1).toString(16).padStart(16, '0'), name: 'x', kind: 1, startTimeUnixNano: 1n, endTimeUnixNano: 2n, attributes: {}, events: [], links: [], status: { code: 0 } }] }] }] };
      await store.offer({ batch, items: 1 });
    }
    process.stdout.write(JSON.stringify({ opened: true, pid: process.pid, recovered: store.recovered }) + '\\n');
    if (${opts.hold === true}) setInterval(() => {}, 1000);
    else await store.close();`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  const line = async (): Promise<Record<string, unknown>> => {
    const text = await pollValue(() => out, (o) => o.includes('\n') || gone, 20_000, 20);
    if (!text.includes('\n')) throw new Error(`the store child printed nothing (exited: ${gone}); stderr:\n${err}`);
    return JSON.parse(text.slice(0, text.indexOf('\n'))) as Record<string, unknown>;
  };
  return { child, line, exited };
}

const lockOwner = (dir: string): number => Number(readFileSync(join(dir, LOCK_FILE), 'utf8').split('\n')[0]);

describe('persistent queue directory lock (one process per directory)', () => {
  it('the same process may open the directory again (reload); the lock file goes with the last close', async () => {
    const dir = tempDir();
    const first = storeAt(dir);
    expect(lockOwner(dir)).toBe(process.pid);
    await first.offer({ batch: spanBatch(0, 2), items: 2 });
    const second = storeAt(dir); // the new exporter of a reload, built before the old one closed
    expect(second.recovered).toEqual({ batches: 1, items: 2 });
    await first.close();
    expect(lockOwner(dir)).toBe(process.pid); // still held by `second`
    await second.close();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    const third = storeAt(dir);
    expect(lockOwner(dir)).toBe(process.pid);
    await third.close();
    await third.close(); // idempotent: releases once
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('a second process opening the directory is refused with SONDE_QUEUE_STORAGE_FAILED naming the holder; after SIGKILL of the holder a new process takes over', async () => {
    const dir = tempDir();
    const holder = storeChild(dir, { offer: 3, hold: true });
    expect(await holder.line()).toMatchObject({ opened: true, pid: holder.child.pid });
    expect(lockOwner(dir)).toBe(holder.child.pid);

    const contender = storeChild(dir);
    const refused = await contender.line();
    expect(await contender.exited).toBe(2);
    expect(refused['code']).toBe('SONDE_QUEUE_STORAGE_FAILED');
    expect(String(refused['message'])).toContain(`pid ${holder.child.pid}`);
    // This process too (another pid): refused the same way, and nothing was changed on disk.
    const inProcess = openError(dir);
    expect(inProcess.code).toBe('SONDE_QUEUE_STORAGE_FAILED');
    expect(inProcess.message).toContain(`pid ${holder.child.pid}`);
    expect(lockOwner(dir)).toBe(holder.child.pid);

    holder.child.kill('SIGKILL');
    await holder.exited;
    // The lock file of the dead holder is still there: it is stale, and taken over.
    expect(lockOwner(dir)).toBe(holder.child.pid);
    const successor = storeChild(dir, { hold: true });
    const taken = await successor.line();
    expect(taken).toMatchObject({ opened: true, pid: successor.child.pid, recovered: { batches: 3, items: 3 } });
    expect(lockOwner(dir)).toBe(successor.child.pid);
    successor.child.kill('SIGTERM');
    await successor.exited;
  });

  it('a process that closes its store releases the lock for the next one', async () => {
    const dir = tempDir();
    const first = storeChild(dir, { offer: 1 });
    expect(await first.line()).toMatchObject({ opened: true });
    expect(await first.exited).toBe(0);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    const store = storeAt(dir);
    expect(store.recovered).toEqual({ batches: 1, items: 1 });
    await store.close();
  });

  it('takes over a lock whose pid now belongs to another process, and a damaged lock file once it is not fresh', async () => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    // pid 1 runs, but it is not the process that wrote this lock (another start time).
    writeFileSync(join(dir, LOCK_FILE), '1\n999999999999\n');
    const a = storeAt(dir);
    expect(lockOwner(dir)).toBe(process.pid);
    await a.close();
    // A lock file without a pid: another process may be writing it right now, so refused while fresh...
    writeFileSync(join(dir, LOCK_FILE), '');
    expect(openError(dir).message).toMatch(/being written by another process/);
    // ...and taken over once older than the grace period.
    const old = new Date(Date.now() - 60_000);
    utimesSync(join(dir, LOCK_FILE), old, old);
    const b = storeAt(dir);
    expect(lockOwner(dir)).toBe(process.pid);
    await b.close();
  });

  it('a second `sonde run` on the same storage_dir exits with SONDE_QUEUE_STORAGE_FAILED naming the first; after SIGKILL of the first, a new one starts', async () => {
    const dir = tempDir();
    const storage = join(dir, 'queue');
    const config = (): Promise<{ file: string; ports: Ports }> =>
      writeTracesConfig(mkdtempSync(join(dir, 'cfg-')), {
        exporter: 'otlphttp',
        exporterSettings: ['endpoint: http://127.0.0.1:1', `sending_queue: { enabled: true, storage_dir: ${storage} }`],
        logLevel: 'warn',
      });
    const a = await config();
    const first = await startAndWait(a.file, a.ports);
    sondes.push(first);
    const queueDir = queueDirectory(storage, 'otlphttp');
    expect(lockOwner(queueDir)).toBe(first.child.pid);

    const b = await config();
    const second = startSonde(['run', '--config', b.file]);
    sondes.push(second);
    const code = await Promise.race([second.exited, new Promise<string>((r) => setTimeout(() => r('still running after 30 s'), 30_000).unref())]);
    expect(code, second.stderr()).toBe(1);
    expect(second.stderr() + second.stdout()).toContain('SONDE_QUEUE_STORAGE_FAILED');
    expect(second.stderr() + second.stdout()).toContain(`pid ${first.child.pid}`);

    await first.stop('SIGKILL');
    const c = await config();
    const third = await startAndWait(c.file, c.ports);
    sondes.push(third);
    expect(lockOwner(queueDir)).toBe(third.child.pid);
    expect((await third.stop('SIGTERM')).code).toBe(0);
    expect(existsSync(join(queueDir, LOCK_FILE))).toBe(false); // released on a clean shutdown
  }, 120_000);
});
