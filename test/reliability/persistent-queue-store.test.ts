import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { open } from 'lmdb';
import { afterEach, describe, expect, it } from 'vitest';
import { SondeError } from '../../src/errors/index.js';
import { PersistentQueueStore, QUEUE_FILE, queueDirectory } from '../../src/exporters/exporterhelper/persistent-queue-store.js';
import { decodeEntry, encodeEntry } from '../../src/exporters/exporterhelper/persistent-queue/entry-codec.js';
import type { TelemetryBatch } from '../../src/pdata/types.js';
import { spanBatch } from './fixtures.js';

const silent = { warn: () => undefined, info: () => undefined, error: () => undefined };
const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sonde-pq-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function storeAt(directory: string, capacity = 100, maxBytes = 64 << 20): PersistentQueueStore {
  return new PersistentQueueStore({ directory, capacity, maxBytes, logger: silent });
}

const firstSpanId = (b: TelemetryBatch): string => (b.signal === 'traces' ? b.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.spanId : '');

describe('entry codec', () => {
  it('round-trips a batch exactly, bigint timestamps and byte attributes included', () => {
    const batch = spanBatch(0, 3);
    const span = batch.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    span.attributes['bytes'] = new Uint8Array([1, 2, 3]);
    span.attributes['nested'] = { a: [1, 'x', true, null] };
    const decoded = decodeEntry(encodeEntry(batch, 3));
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    expect(decoded.items).toBe(3);
    expect(decoded.batch).toEqual(batch);
    const back = decoded.batch.signal === 'traces' ? decoded.batch.resourceSpans[0]!.scopeSpans[0]!.spans[0]! : undefined;
    expect(typeof back?.startTimeUnixNano).toBe('bigint');
    expect(back?.attributes['bytes']).toBeInstanceOf(Uint8Array);
  });

  it('reports damaged records instead of throwing', () => {
    const good = encodeEntry(spanBatch(0, 1), 1);
    expect(decodeEntry(good.subarray(0, 4))).toMatchObject({ ok: false });
    const badFormat = Buffer.from(good);
    badFormat[0] = 9;
    expect(decodeEntry(badFormat)).toMatchObject({ ok: false, reason: 'unknown record format 9' });
    const truncated = good.subarray(0, good.length - 5);
    expect(decodeEntry(truncated).ok).toBe(false);
  });
});

describe('PersistentQueueStore', () => {
  it('keeps one directory per exporter id', () => {
    expect(queueDirectory('/var/lib/sonde', 'otlphttp/backend')).toBe('/var/lib/sonde/otlphttp_backend');
    expect(queueDirectory('/q', 'otlp')).toBe('/q/otlp');
  });

  it('is FIFO, and done() deletes for good', async () => {
    const dir = tempDir();
    const store = storeAt(dir);
    for (let i = 0; i < 5; i++) expect(await store.offer({ batch: spanBatch(i * 10, 2), items: 2 })).toBe(true);
    expect(store.size()).toBe(5);
    const taken = [];
    for (let i = 0; i < 5; i++) taken.push((await store.take())!);
    expect(taken.map((e) => firstSpanId(e.batch))).toEqual([0, 10, 20, 30, 40].map((i) => spanBatch(i, 1).resourceSpans[0]!.scopeSpans[0]!.spans[0]!.spanId));
    expect(await store.take()).toBeUndefined();
    for (const e of taken) await store.done(e);
    expect(store.bytes()).toBe(0);
    await store.close();
    const again = storeAt(dir);
    expect(again.recovered).toEqual({ batches: 0, items: 0 });
    await again.close();
  });

  it('delivers again after a restart what was taken but not done (at-least-once)', async () => {
    const dir = tempDir();
    const store = storeAt(dir);
    for (let i = 0; i < 4; i++) await store.offer({ batch: spanBatch(i * 10, 3), items: 3 });
    const a = (await store.take())!;
    const b = (await store.take())!;
    await store.done(a); // sent
    void b; // "in flight" when the process stops
    await store.close();

    const reopened = storeAt(dir);
    expect(reopened.recovered).toEqual({ batches: 3, items: 9 });
    const ids: string[] = [];
    for (let e = await reopened.take(); e; e = await reopened.take()) ids.push(firstSpanId(e.batch));
    expect(ids).toEqual([10, 20, 30].map((i) => firstSpanId(spanBatch(i, 1))));
    await reopened.close();
  });

  it('refuses offers beyond queue_size batches and beyond max_size bytes', async () => {
    const dir = tempDir();
    const byCount = storeAt(join(dir, 'a'), 2);
    expect(await byCount.offer({ batch: spanBatch(0, 1), items: 1 })).toBe(true);
    expect(await byCount.offer({ batch: spanBatch(1, 1), items: 1 })).toBe(true);
    expect(await byCount.offer({ batch: spanBatch(2, 1), items: 1 })).toBe(false);
    await byCount.close();

    const recordSize = encodeEntry(spanBatch(0, 5), 5).length;
    const byBytes = storeAt(join(dir, 'b'), 1000, recordSize * 2 + 10);
    expect(await byBytes.offer({ batch: spanBatch(0, 5), items: 5 })).toBe(true);
    expect(await byBytes.offer({ batch: spanBatch(100, 5), items: 5 })).toBe(true);
    expect(await byBytes.offer({ batch: spanBatch(200, 5), items: 5 })).toBe(false);
    // Bytes of entries in flight still count until done().
    const e = (await byBytes.take())!;
    expect(await byBytes.offer({ batch: spanBatch(200, 5), items: 5 })).toBe(false);
    await byBytes.done(e);
    expect(await byBytes.offer({ batch: spanBatch(200, 5), items: 5 })).toBe(true);
    // A batch that can never fit is an error, not "full" (which would block forever).
    await expect(byBytes.offer({ batch: spanBatch(0, 500), items: 500 })).rejects.toMatchObject({ code: 'SONDE_QUEUE_ENTRY_TOO_LARGE' });
    await byBytes.close();
  });

  it('keeps the file on disk bounded by max_size under churn (LMDB reuses freed pages)', async () => {
    const dir = tempDir();
    const maxBytes = 4 << 20;
    const store = storeAt(dir, 100_000, maxBytes);
    const batch = spanBatch(0, 100);
    for (const s of batch.resourceSpans[0]!.scopeSpans[0]!.spans) s.attributes['pad'] = 'x'.repeat(1000);
    let refused = 0;
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 60; i++) if (!(await store.offer({ batch, items: 100 }))) refused++;
      expect(store.bytes()).toBeLessThanOrEqual(maxBytes);
      for (let e = await store.take(); e; e = await store.take()) await store.done(e);
    }
    await store.close();
    expect(refused).toBeGreaterThan(0); // 60 x ~110 KB does not fit in 4 MiB: the bound applied
    expect(statSync(join(dir, QUEUE_FILE)).size).toBeLessThan(maxBytes * 1.5);
  });

  it('concurrent offers never overfill the store', async () => {
    const store = storeAt(tempDir(), 10);
    const results = await Promise.all(Array.from({ length: 25 }, (_, i) => store.offer({ batch: spanBatch(i, 1), items: 1 })));
    expect(results.filter(Boolean).length).toBe(10);
    expect(store.size()).toBe(10);
    await store.close();
  });

  it('deletes and reports a record it cannot read, and moves on', async () => {
    const dir = tempDir();
    const store = storeAt(dir);
    await store.offer({ batch: spanBatch(0, 1), items: 1 });
    await store.offer({ batch: spanBatch(10, 1), items: 1 });
    await store.close();
    // Damage the first record behind the store's back.
    const raw = open<Buffer, number>({ path: join(dir, QUEUE_FILE), encoding: 'binary' });
    const firstKey = [...raw.getKeys({})][0]!;
    await raw.put(firstKey, Buffer.from([1, 0, 0, 0, 1, 0, 0, 0, 0xff, 0x00]));
    await raw.close();
    const reasons: string[] = [];
    const reopened = new PersistentQueueStore({ directory: dir, capacity: 10, maxBytes: 1 << 20, logger: silent, onCorrupt: (items, r) => reasons.push(`${items}: ${r}`) });
    const e = await reopened.take();
    expect(firstSpanId(e!.batch)).toBe(firstSpanId(spanBatch(10, 1)));
    expect(reasons.length).toBe(1);
    expect(reasons[0]).toMatch(/^1: /); // the damaged record's header still says 1 item
    await reopened.done(e!);
    expect(reopened.bytes()).toBe(0);
    await reopened.close();
  });

  it('fails with a stable code when the directory cannot be used', () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, 'not a directory');
    try {
      storeAt(join(file, 'queue'));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(SondeError);
      expect((err as SondeError).code).toBe('SONDE_QUEUE_STORAGE_FAILED');
    }
  });

  it('keeps every offer that resolved true when the process is killed with SIGKILL', async () => {
    const dir = tempDir();
    const storeModule = fileURLToPath(new URL('../../dist/exporters/exporterhelper/persistent-queue-store.js', import.meta.url));
    // The child offers batches as fast as it can, and prints each id once offer() resolved true.
    const script = `
      const { PersistentQueueStore } = await import(${JSON.stringify(storeModule)});
      const silent = { warn() {}, info() {}, error() {} };
      const store = new PersistentQueueStore({ directory: ${JSON.stringify(dir)}, capacity: 100000, maxBytes: 1 << 30, logger: silent });
      for (let i = 0; ; i++) {
        const batch = { signal: 'traces', resourceSpans: [{ resource: { attributes: {} }, scopeSpans: [{ scope: { name: 's' }, spans: [{ traceId: '0'.repeat(32), spanId: i.toString(16).padStart(16, '0'), name: 'x', kind: 1, startTimeUnixNano: 1n, endTimeUnixNano: 2n, attributes: {}, events: [], links: [], status: { code: 0 } }] }] }] };
        if (await store.offer({ batch, items: 1 })) process.stdout.write(i + '\\n');
      }`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const deadline = Date.now() + 15_000;
    while ((out.match(/\n/g)?.length ?? 0) < 300 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const acknowledged = out.split('\n').filter((l) => /^\d+$/.test(l)).map(Number);
    expect(acknowledged.length, err).toBeGreaterThanOrEqual(300);

    const store = storeAt(dir, 1_000_000, 1 << 30);
    const found = new Set<number>();
    for (let e = await store.take(); e; e = await store.take()) found.add(parseInt(firstSpanId(e.batch), 16));
    await store.close();
    const missing = acknowledged.filter((i) => !found.has(i));
    expect(missing).toEqual([]);
  });
});
