// The exporter helper with sending_queue.storage_dir: accounting and shutdown semantics of the
// persistent queue, in process (the end-to-end proofs are in persistent-delivery.test.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseComponentId } from '../../src/component/id.js';
import {
  createExporterHelper,
  defaultExporterHelperConfig,
  retryable,
  SUCCESS,
  type ExporterHelperConfig,
  type PushFn,
} from '../../src/exporters/exporterhelper/index.js';
import { createSilentLogger } from '../../src/telemetry/logger.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import { promValue } from '../helpers/sonde-process.js';
import { spanBatch } from './fixtures.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function persistentConfig(dir: string, over: Partial<ExporterHelperConfig['sending_queue']> = {}): ExporterHelperConfig {
  const c = defaultExporterHelperConfig();
  c.retry_on_failure = { enabled: true, initial_interval: '10ms', max_interval: '20ms', max_elapsed_time: 0 };
  c.sending_queue = { ...c.sending_queue, num_consumers: 2, storage_dir: dir, ...over };
  return c;
}

function helper(config: ExporterHelperConfig, push: PushFn, telemetry = new SelfTelemetry({ processMetrics: false })) {
  const exporter = createExporterHelper({
    settings: { id: parseComponentId('otlphttp/backend')!, logger: createSilentLogger(), telemetry, configDir: '/' },
    config,
    push,
    // A bound on waiting, not on speed: every drain here ends as soon as the queue is empty (or,
    // backend down, at once), but each done() is an fsync'd LMDB commit, slow on a busy disk.
    drainTimeoutMs: 20_000,
  });
  const value = async (name: string): Promise<number> => {
    const v = promValue(await telemetry.render(), name, { exporter: 'otlphttp/backend' });
    return Number.isNaN(v) ? 0 : v;
  };
  return { exporter, value };
}

describe('exporter helper with a persistent queue', () => {
  it('a shutdown with the backend down counts nothing as failed, and the next instance sends it all', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sonde-peh-'));
    dirs.push(dir);
    const down = helper(persistentConfig(dir), async () => retryable('backend down'));
    await down.exporter.start();
    for (let i = 0; i < 10; i++) await down.exporter.consume(spanBatch(i * 10, 10));
    expect(await down.value('sonde_exporter_queue_items')).toBe(100);
    await down.exporter.shutdown();
    expect(await down.value('sonde_exporter_send_failed_items_total')).toBe(0);
    expect(await down.value('sonde_exporter_sent_items_total')).toBe(0);

    const got: string[] = [];
    const up = helper(persistentConfig(dir), async (batch) => {
      if (batch.signal === 'traces') for (const s of batch.resourceSpans[0]!.scopeSpans[0]!.spans) got.push(s.spanId);
      return SUCCESS;
    });
    expect(await up.value('sonde_exporter_queue_recovered_items_total')).toBe(100);
    await up.exporter.start();
    await up.exporter.shutdown(); // drains: the backend is up
    expect(await up.value('sonde_exporter_sent_items_total')).toBe(100);
    expect(await up.value('sonde_exporter_queue_items')).toBe(0);
    expect(new Set(got).size).toBe(100);
  });

  it('a reload in the same process takes over what the old instance left on disk without counting it as recovered', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sonde-peh-'));
    dirs.push(dir);
    const telemetry = new SelfTelemetry({ processMetrics: false }); // one per process, kept across reloads
    const before = helper(persistentConfig(dir), async () => retryable('backend down'), telemetry);
    await before.exporter.start();
    for (let i = 0; i < 5; i++) await before.exporter.consume(spanBatch(i * 10, 10));
    await before.exporter.shutdown(); // the reload stops the old pipelines; the 50 spans stay on disk

    let sent = 0;
    const after = helper(persistentConfig(dir), async (batch) => ((sent += batch.signal === 'traces' ? batch.resourceSpans[0]!.scopeSpans[0]!.spans.length : 0), SUCCESS), telemetry);
    expect(await after.value('sonde_exporter_queue_recovered_items_total')).toBe(0);
    expect(await after.value('sonde_exporter_queue_items')).toBe(50);
    await after.exporter.start();
    await after.exporter.shutdown();
    expect(sent).toBe(50);
    expect(await after.value('sonde_exporter_sent_items_total')).toBe(50);
    expect(await after.value('sonde_exporter_queue_items')).toBe(0);

    // A later process (another telemetry) finding data on disk still counts it as recovered.
    const again = helper(persistentConfig(dir), async () => retryable('backend down'), telemetry);
    await again.exporter.start();
    await again.exporter.consume(spanBatch(100, 10));
    await again.exporter.shutdown();
    const nextRun = helper(persistentConfig(dir), async () => SUCCESS);
    expect(await nextRun.value('sonde_exporter_queue_recovered_items_total')).toBe(10);
    await nextRun.exporter.start();
    await nextRun.exporter.shutdown();
  });

  it('a batch over max_size is refused with SONDE_QUEUE_ENTRY_TOO_LARGE and counted as enqueue failed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sonde-peh-'));
    dirs.push(dir);
    const h = helper(persistentConfig(dir, { max_size: '2KiB' }), async () => SUCCESS);
    await h.exporter.start();
    await expect(h.exporter.consume(spanBatch(0, 200))).rejects.toMatchObject({ code: 'SONDE_QUEUE_ENTRY_TOO_LARGE', retryable: false });
    expect(await h.value('sonde_exporter_enqueue_failed_items_total')).toBe(200);
    await h.exporter.consume(spanBatch(1000, 1));
    await h.exporter.shutdown();
    expect(await h.value('sonde_exporter_sent_items_total')).toBe(1);
  });

  it('drop_newest on a full persistent queue refuses with SONDE_QUEUE_FULL and counts; accepted = sent + failed + refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sonde-peh-'));
    dirs.push(dir);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const h = helper(persistentConfig(dir, { queue_size: 3, num_consumers: 1, when_full: 'drop_newest' }), async () => {
      await gate;
      return SUCCESS;
    });
    await h.exporter.start();
    let refused = 0;
    for (let i = 0; i < 10; i++) {
      await h.exporter.consume(spanBatch(i * 5, 5)).catch((e: { code?: string }) => {
        expect(e.code).toBe('SONDE_QUEUE_FULL');
        refused += 5;
      });
    }
    expect(refused).toBeGreaterThan(0);
    expect(await h.value('sonde_exporter_enqueue_failed_items_total')).toBe(refused);
    expect(await h.value('sonde_exporter_queue_items')).toBe(50 - refused);
    release();
    await h.exporter.shutdown();
    expect(await h.value('sonde_exporter_sent_items_total')).toBe(50 - refused);
  });
});
