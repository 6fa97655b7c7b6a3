import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SondeError } from '../../src/errors/index.js';
import {
  SUCCESS,
  createExporterHelper,
  defaultExporterHelperConfig,
  permanent,
  retryable,
  type ExportResult,
  type ExporterHelperConfig,
  type PushFn,
} from '../../src/exporters/exporterhelper/index.js';
import { backoffDelay, withRetry } from '../../src/exporters/exporterhelper/retry.js';
import { createSilentLogger } from '../../src/telemetry/logger.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import type { TelemetryBatch } from '../../src/pdata/types.js';
import { sampleTraces } from './fixtures.js';

const ITEMS = 2; // spans in sampleTraces()

async function metric(t: SelfTelemetry, name: string, exporter = 'test'): Promise<number> {
  const m = t.registry.getSingleMetric(name);
  if (!m) return 0;
  const v = (await m.get()).values.find((x) => x.labels.exporter === exporter);
  return v?.value ?? 0;
}

function config(patch: (c: ExporterHelperConfig) => void = () => {}): ExporterHelperConfig {
  const c = defaultExporterHelperConfig();
  patch(c);
  return c;
}

/** A sleep that never waits: records each requested delay and resolves at once. */
function fakeSleep() {
  const delays: number[] = [];
  let clock = 0;
  return {
    delays,
    now: () => clock,
    sleep: async (ms: number, signal: AbortSignal) => {
      delays.push(ms);
      clock += ms;
      return !signal.aborted;
    },
  };
}

function setup(push: PushFn, cfg: ExporterHelperConfig, extra: { drainTimeoutMs?: number } = {}) {
  const telemetry = new SelfTelemetry({ processMetrics: false });
  const clock = fakeSleep();
  const exporter = createExporterHelper({
    settings: { id: { type: 'test', name: '', key: 'test' }, logger: createSilentLogger(), telemetry },
    config: cfg,
    push,
    hooks: { sleep: clock.sleep, now: clock.now, random: () => 0.5 },
    ...extra,
  });
  return { telemetry, exporter, clock };
}

/** A push whose results are scripted; each call takes the next result (the last repeats). */
function scripted(results: ExportResult[]) {
  const calls: TelemetryBatch[] = [];
  const push: PushFn = async (batch) => {
    calls.push(batch);
    return results[Math.min(calls.length - 1, results.length - 1)]!;
  };
  return { push, calls };
}

describe('backoff', () => {
  const policy = { initialMs: 1000, maxMs: 8000, maxElapsedMs: 0, multiplier: 2, randomization: 0.5 };
  it('grows exponentially, is capped, and jitters within +/- randomization', () => {
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffDelay(policy, n, () => 0.5))).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    expect(backoffDelay(policy, 1, () => 0)).toBe(1000);
    expect(backoffDelay(policy, 1, () => 0.999999)).toBeLessThanOrEqual(3000);
    expect(backoffDelay(policy, 1, () => 0.999999)).toBeGreaterThan(2990);
  });

  it('gives up once max_elapsed_time would be exceeded', async () => {
    const clock = fakeSleep();
    let attempts = 0;
    const result = await withRetry(
      async () => {
        attempts++;
        return retryable('down');
      },
      { ...policy, maxElapsedMs: 10_000 },
      new AbortController().signal,
      { ...clock, random: () => 0.5, onRetry: () => {} },
    );
    expect(result.kind).toBe('retryable');
    // waits 1000 + 2000 + 4000 = 7000; the next (8000) would pass 10 s.
    expect(clock.delays).toEqual([1000, 2000, 4000]);
    expect(attempts).toBe(4);
  });
});

describe('exporter helper without queue', () => {
  const noQueue = (c: ExporterHelperConfig) => {
    c.sending_queue.enabled = false;
  };

  it('counts a success as sent', async () => {
    const { push, calls } = scripted([SUCCESS]);
    const { exporter, telemetry } = setup(push, config(noQueue));
    await exporter.start();
    await exporter.consume(sampleTraces());
    await exporter.shutdown();
    expect(calls).toHaveLength(1);
    expect(await metric(telemetry, 'sonde_exporter_sent_items_total')).toBe(ITEMS);
    expect(await metric(telemetry, 'sonde_exporter_retries_total')).toBe(0);
  });

  it('retries retryable failures with backoff and honours Retry-After', async () => {
    const { push, calls } = scripted([retryable('503'), retryable('429', 42_000), SUCCESS]);
    const { exporter, telemetry, clock } = setup(push, config(noQueue));
    await exporter.start();
    await exporter.consume(sampleTraces());
    expect(calls).toHaveLength(3);
    // initial_interval 5s at jitter midpoint, then max(7.5s backoff, 42s Retry-After).
    expect(clock.delays).toEqual([5000, 42_000]);
    expect(await metric(telemetry, 'sonde_exporter_retries_total')).toBe(2);
    expect(await metric(telemetry, 'sonde_exporter_sent_items_total')).toBe(ITEMS);
    await exporter.shutdown();
  });

  it('does not retry permanent failures and rejects with the error', async () => {
    const { push, calls } = scripted([permanent('HTTP 400: bad')]);
    const { exporter, telemetry } = setup(push, config(noQueue));
    await exporter.start();
    await expect(exporter.consume(sampleTraces())).rejects.toMatchObject({ code: 'SONDE_EXPORT_PERMANENT', retryable: false });
    expect(calls).toHaveLength(1);
    expect(await metric(telemetry, 'sonde_exporter_send_failed_items_total')).toBe(ITEMS);
    await exporter.shutdown();
  });

  it('counts partial success without retrying', async () => {
    const { push, calls } = scripted([{ kind: 'partial', rejected: 1, message: 'one bad span' }]);
    const { exporter, telemetry } = setup(push, config(noQueue));
    await exporter.start();
    await exporter.consume(sampleTraces());
    expect(calls).toHaveLength(1);
    expect(await metric(telemetry, 'sonde_exporter_sent_items_total')).toBe(1);
    expect(await metric(telemetry, 'sonde_exporter_send_failed_items_total')).toBe(1);
    await exporter.shutdown();
  });

  it('with retry disabled, a retryable failure fails at once', async () => {
    const { push, calls } = scripted([retryable('down')]);
    const { exporter, telemetry } = setup(push, config((c) => { noQueue(c); c.retry_on_failure.enabled = false; }));
    await exporter.start();
    await expect(exporter.consume(sampleTraces())).rejects.toMatchObject({ code: 'SONDE_EXPORT_RETRYABLE' });
    expect(calls).toHaveLength(1);
    expect(await metric(telemetry, 'sonde_exporter_send_failed_items_total')).toBe(ITEMS);
    await exporter.shutdown();
  });

  it('maps thrown errors: SondeError by its flag, anything else permanent', async () => {
    let n = 0;
    const push: PushFn = async () => {
      n++;
      if (n === 1) throw new SondeError('SONDE_EXPORT_RETRYABLE', 'boom', { retryable: true });
      throw new Error('bug');
    };
    const { exporter } = setup(push, config(noQueue));
    await exporter.start();
    await expect(exporter.consume(sampleTraces())).rejects.toMatchObject({ code: 'SONDE_EXPORT_PERMANENT' });
    expect(n).toBe(2);
    await exporter.shutdown();
  });

  it('turns a push that outlives the timeout into a retryable failure', async () => {
    let n = 0;
    const push: PushFn = (_b, signal) => {
      n++;
      if (n > 1) return Promise.resolve(SUCCESS);
      return new Promise((resolve) => signal.addEventListener('abort', () => resolve(retryable('aborted'))));
    };
    const { exporter, telemetry } = setup(push, config((c) => { noQueue(c); c.timeout = '20ms'; }));
    await exporter.start();
    await exporter.consume(sampleTraces());
    expect(n).toBe(2);
    expect(await metric(telemetry, 'sonde_exporter_retries_total')).toBe(1);
    await exporter.shutdown();
  });
});

/** A push that holds every call until released. */
function gated() {
  const pending: ((r: ExportResult) => void)[] = [];
  let started = 0;
  const push: PushFn = () => {
    started++;
    return new Promise((resolve) => pending.push(resolve));
  };
  return { push, pending, started: () => started };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('exporter helper with queue', () => {
  it('drop_newest refuses and counts batches beyond queue_size', async () => {
    const g = gated();
    const cfg = config((c) => Object.assign(c.sending_queue, { queue_size: 2, num_consumers: 1, when_full: 'drop_newest' }));
    const { exporter, telemetry } = setup(g.push, cfg);
    await exporter.start();
    await exporter.consume(sampleTraces()); // taken by the consumer, in flight
    await flush();
    expect(g.started()).toBe(1);
    await exporter.consume(sampleTraces());
    await exporter.consume(sampleTraces()); // queue now holds 2
    expect(await metric(telemetry, 'sonde_exporter_queue_size')).toBe(2);
    expect(await metric(telemetry, 'sonde_exporter_queue_capacity')).toBe(2);
    await expect(exporter.consume(sampleTraces())).rejects.toMatchObject({ code: 'SONDE_QUEUE_FULL', retryable: true });
    expect(await metric(telemetry, 'sonde_exporter_enqueue_failed_items_total')).toBe(ITEMS);
    // Release everything: the three accepted batches are all sent.
    const releaser = setInterval(() => g.pending.splice(0).forEach((r) => r(SUCCESS)), 1);
    await exporter.shutdown();
    clearInterval(releaser);
    expect(g.started()).toBe(3);
    expect(await metric(telemetry, 'sonde_exporter_sent_items_total')).toBe(3 * ITEMS);
  });

  it('block makes the producer wait for room instead of dropping', async () => {
    const g = gated();
    const cfg = config((c) => Object.assign(c.sending_queue, { queue_size: 1, num_consumers: 1, when_full: 'block' }));
    const { exporter, telemetry } = setup(g.push, cfg);
    await exporter.start();
    await exporter.consume(sampleTraces());
    await flush();
    await exporter.consume(sampleTraces()); // fills the queue
    let third = false;
    const p = exporter.consume(sampleTraces()).then(() => (third = true));
    await flush();
    expect(third).toBe(false);
    g.pending.shift()!(SUCCESS); // first done: consumer takes the second, room for the third
    await p;
    expect(third).toBe(true);
    expect(await metric(telemetry, 'sonde_exporter_enqueue_failed_items_total')).toBe(0);
    const releaser = setInterval(() => g.pending.splice(0).forEach((r) => r(SUCCESS)), 1);
    await exporter.shutdown();
    clearInterval(releaser);
    expect(await metric(telemetry, 'sonde_exporter_sent_items_total')).toBe(3 * ITEMS);
  });

  it('num_consumers sends that many batches concurrently', async () => {
    const g = gated();
    const cfg = config((c) => Object.assign(c.sending_queue, { queue_size: 10, num_consumers: 3 }));
    const { exporter } = setup(g.push, cfg);
    await exporter.start();
    for (let i = 0; i < 5; i++) await exporter.consume(sampleTraces());
    await flush();
    expect(g.started()).toBe(3);
    const releaser = setInterval(() => g.pending.splice(0).forEach((r) => r(SUCCESS)), 1);
    await exporter.shutdown();
    clearInterval(releaser);
    expect(g.started()).toBe(5);
  });

  it('shutdown sends what is queued, then refuses new data', async () => {
    const { push, calls } = scripted([SUCCESS]);
    const { exporter, telemetry } = setup(push, config());
    await exporter.start();
    for (let i = 0; i < 4; i++) await exporter.consume(sampleTraces());
    await exporter.shutdown();
    expect(calls).toHaveLength(4);
    expect(await metric(telemetry, 'sonde_exporter_sent_items_total')).toBe(4 * ITEMS);
    await expect(exporter.consume(sampleTraces())).rejects.toMatchObject({ code: 'SONDE_EXPORTER_STOPPED' });
    await exporter.shutdown(); // idempotent
  });

  it('shutdown gives up at its deadline and counts what was not sent', async () => {
    // Backend down for good, retry until shutdown (max_elapsed_time 0); real sleeps never finish in time.
    const g = gated();
    const cfg = config((c) => {
      c.retry_on_failure.max_elapsed_time = 0;
      Object.assign(c.sending_queue, { queue_size: 10, num_consumers: 1 });
    });
    const { exporter, telemetry } = setup(g.push, cfg, { drainTimeoutMs: 30 });
    await exporter.start();
    for (let i = 0; i < 3; i++) await exporter.consume(sampleTraces());
    await flush();
    await exporter.shutdown();
    // One batch was in flight (aborted), two never left the queue: all three are counted failed.
    expect(await metric(telemetry, 'sonde_exporter_send_failed_items_total')).toBe(3 * ITEMS);
    expect(await metric(telemetry, 'sonde_exporter_queue_size')).toBe(0);
  });

  it('shutdown before start is safe and counts queued data as lost', async () => {
    const { push, calls } = scripted([SUCCESS]);
    const { exporter, telemetry } = setup(push, config());
    await exporter.consume(sampleTraces());
    await exporter.shutdown();
    expect(calls).toHaveLength(0);
    expect(await metric(telemetry, 'sonde_exporter_send_failed_items_total')).toBe(ITEMS);
  });

  it('opens a persistent queue for sending_queue.storage_dir (details: test/reliability)', async () => {
    const { push } = scripted([SUCCESS]);
    const dir = mkdtempSync(join(tmpdir(), 'sonde-eh-'));
    try {
      const exporter = setup(push, config((c) => (c.sending_queue.storage_dir = dir))).exporter;
      expect(existsSync(join(dir, 'test', 'queue.mdb'))).toBe(true);
      await exporter.shutdown();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
