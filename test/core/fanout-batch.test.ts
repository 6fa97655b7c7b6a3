import { describe, expect, it, vi } from 'vitest';
import type { Consumer } from '../../src/component/types.js';
import { createFanout } from '../../src/service/fanout.js';
import { BatchProcessor } from '../../src/processors/batch/batch-processor.js';
import { splitBatch } from '../../src/processors/batch/split.js';
import { countItems } from '../../src/pdata/count.js';
import type { TelemetryBatch, TracesBatch } from '../../src/pdata/types.js';
import { parseComponentId } from '../../src/component/id.js';
import { batchProcessorFactory } from '../../src/processors/batch/factory.js';
import { createSilentLogger } from '../../src/telemetry/logger.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import { promValue } from '../helpers/sonde-process.js';
import { sampleMetrics, sampleTraces } from '../helpers/sample-data.js';

function recorder(mutatesData: boolean, fail = false): Consumer & { got: TelemetryBatch[] } {
  const got: TelemetryBatch[] = [];
  return {
    mutatesData,
    got,
    async consume(b) {
      got.push(b);
      if (fail) throw new Error('refused');
    },
  };
}

describe('fan-out', () => {
  it('shares the batch with readers and gives each mutating consumer its own copy', async () => {
    const r1 = recorder(false);
    const r2 = recorder(false);
    const m1 = recorder(true);
    const m2 = recorder(true);
    const batch = sampleTraces();
    await createFanout([r1, m1, r2, m2]).consume(batch);
    expect(r1.got[0]).toBe(batch);
    expect(r2.got[0]).toBe(batch);
    expect(m1.got[0]).not.toBe(batch);
    expect(m2.got[0]).not.toBe(batch);
    expect(m1.got[0]).toEqual(batch);
  });

  it('lets the only consumer that mutates take the original when nobody else reads it', async () => {
    const m = recorder(true);
    const m2 = recorder(true);
    const batch = sampleTraces();
    await createFanout([m, m2]).consume(batch);
    expect(m.got[0]).not.toBe(batch);
    expect(m2.got[0]).toBe(batch);
  });

  it('delivers to every consumer even when one fails, then reports the failure', async () => {
    const bad = recorder(false, true);
    const good = recorder(false);
    await expect(createFanout([bad, good]).consume(sampleMetrics())).rejects.toThrow('refused');
    expect(good.got).toHaveLength(1);
  });
});

describe('batch processor', () => {
  it('sends as soon as send_batch_size items are buffered', async () => {
    const out = recorder(false);
    const p = new BatchProcessor({ send_batch_size: 4, send_batch_max_size: 0, timeout: '1h' }, out, createSilentLogger());
    await p.start();
    await p.consume(sampleTraces(3));
    expect(out.got).toHaveLength(0);
    await p.consume(sampleTraces(2));
    await vi.waitFor(() => expect(out.got).toHaveLength(1));
    expect(countItems(out.got[0]!)).toBe(5);
    await p.shutdown();
  });

  it('sends on timeout', async () => {
    vi.useFakeTimers();
    try {
      const out = recorder(false);
      const p = new BatchProcessor({ send_batch_size: 100, send_batch_max_size: 0, timeout: '200ms' }, out, createSilentLogger());
      await p.consume(sampleTraces(2));
      expect(out.got).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(250);
      expect(out.got).toHaveLength(1);
      await p.shutdown();
    } finally {
      vi.useRealTimers();
    }
  });

  it('splits batches larger than send_batch_max_size without losing or duplicating items', async () => {
    const out = recorder(false);
    const p = new BatchProcessor({ send_batch_size: 10, send_batch_max_size: 4, timeout: '1h' }, out, createSilentLogger());
    await p.consume(sampleTraces(11));
    await p.shutdown();
    expect(out.got.map(countItems)).toEqual([4, 4, 3]);
    const ids = out.got.flatMap((b) => (b as TracesBatch).resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((x) => x.spanId))));
    expect(new Set(ids).size).toBe(11);
  });

  it('splits metrics by data point and keeps resources and scopes', () => {
    const parts = splitBatch(sampleMetrics(), 2);
    expect(parts.map(countItems)).toEqual([2, 1]);
    const second = parts[1]!;
    expect(second.signal === 'metrics' && second.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!.name).toBe('sonde.tcp.connect.duration');
  });

  it('counts in sonde_processor_dropped_items_total the items downstream failed after the batch accepted them', async () => {
    const telemetry = new SelfTelemetry({ processMetrics: false });
    const calls: number[] = [];
    // Refuses the second send and fails the fourth (a retryable-looking error and a plain one).
    const out: Consumer = {
      mutatesData: false,
      async consume(b) {
        calls.push(countItems(b));
        if (calls.length === 2) throw Object.assign(new Error('queue full'), { code: 'SONDE_QUEUE_FULL' });
        if (calls.length === 4) throw new Error('disk gone');
      },
    };
    const settings = {
      id: parseComponentId('batch/drop')!,
      logger: createSilentLogger(),
      telemetry,
      configDir: '/',
      backpressure: { shouldRefuse: () => false },
      pipeline: 'traces/x',
    };
    const p = batchProcessorFactory.create(settings, { send_batch_size: 4, send_batch_max_size: 0, timeout: '1h' }, out);
    const scrape = async (): Promise<number> => promValue(await telemetry.render(), 'sonde_processor_dropped_items_total', { processor: 'batch/drop', pipeline: 'traces/x' });
    expect(await scrape()).toBe(0);
    await p.start();
    await p.consume(sampleTraces(4)); // sent, ok
    await p.consume(sampleTraces(5)); // sent, refused: 5 dropped
    await p.consume(sampleTraces(2)); // buffered
    await p.consume(sampleTraces(2)); // 4 sent, ok
    await p.consume(sampleTraces(3)); // buffered until shutdown, then fails: 3 dropped
    await p.shutdown();
    expect(calls).toEqual([4, 5, 4, 3]);
    expect(await scrape()).toBe(8);
    // After shutdown nothing is buffered: a failure reaches the caller, and is not a drop here.
    const failing = recorder(false, true);
    const q = batchProcessorFactory.create(settings, { send_batch_size: 4, send_batch_max_size: 0, timeout: '1h' }, failing);
    await q.shutdown();
    await expect(q.consume(sampleTraces(2))).rejects.toThrow('refused');
    expect(await scrape()).toBe(8);
  });

  it('flushes what it holds on shutdown', async () => {
    const out = recorder(false);
    const p = new BatchProcessor({ send_batch_size: 100, send_batch_max_size: 0, timeout: '1h' }, out, createSilentLogger());
    await p.consume(sampleMetrics());
    await p.shutdown();
    expect(out.got.map(countItems)).toEqual([3]);
  });
});
