import { describe, expect, it } from 'vitest';
import type { Consumer } from '../../src/component/types.js';
import { parseComponentId } from '../../src/component/id.js';
import { SondeError } from '../../src/errors/index.js';
import { defaultMemoryLimiterConfig, resolveMemoryLimits } from '../../src/processors/memorylimiter/config.js';
import { memoryLimiterProcessorFactory } from '../../src/processors/memorylimiter/factory.js';
import { MemoryLimiter } from '../../src/processors/memorylimiter/memory-limiter.js';
import { forceGc } from '../../src/processors/memorylimiter/memory-source.js';
import { countReceiverItems } from '../../src/service/receiver-accounting.js';
import { MemoryPressure } from '../../src/service/memory-pressure.js';
import type { TelemetryBatch } from '../../src/pdata/types.js';
import { createSilentLogger } from '../../src/telemetry/logger.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import { promValue } from '../helpers/sonde-process.js';
import { spanBatch } from './fixtures.js';

const MIB = 1024 * 1024;

class Sink implements Consumer {
  readonly mutatesData = false;
  items = 0;
  async consume(batch: TelemetryBatch): Promise<void> {
    this.items += batch.signal === 'traces' ? batch.resourceSpans[0]!.scopeSpans[0]!.spans.length : 0;
  }
}

function limiterWith(memory: { used: number }, opts: { gc?: () => boolean; pressure?: MemoryPressure; pipeline?: string } = {}) {
  const telemetry = new SelfTelemetry({ processMetrics: false });
  const sink = new Sink();
  const pressure = opts.pressure ?? new MemoryPressure();
  let clock = 0;
  const limiter = new MemoryLimiter(
    { id: parseComponentId('memory_limiter')!, logger: createSilentLogger(), telemetry, pipeline: opts.pipeline ?? 'traces' },
    { hardBytes: 100 * MIB, softBytes: 80 * MIB, checkIntervalMs: 1000, softGcIntervalMs: 10_000, hardGcIntervalMs: 1000 },
    sink,
    { readMemory: () => memory.used, pressure, gc: opts.gc ?? (() => false), now: () => clock },
  );
  return { limiter, sink, telemetry, pressure, tick: (ms: number) => (clock += ms) };
}

describe('memory_limiter config', () => {
  it('derives soft and hard limits from MiB, with a 20% spike by default', () => {
    const c = { ...defaultMemoryLimiterConfig(), limit_mib: 500 };
    expect(resolveMemoryLimits(c, 0)).toEqual({ hardBytes: 500 * MIB, softBytes: 400 * MIB, checkIntervalMs: 1000, softGcIntervalMs: 10_000, hardGcIntervalMs: 1000 });
    expect(resolveMemoryLimits({ ...c, spike_limit_mib: 100, check_interval: '100ms', min_gc_interval_when_soft_limited: 0 }, 0)).toMatchObject({ hardBytes: 500 * MIB, softBytes: 400 * MIB, checkIntervalMs: 100, softGcIntervalMs: 0 });
    expect(resolveMemoryLimits({ ...c, spike_limit_mib: 50 }, 0).softBytes).toBe(450 * MIB);
  });

  it('derives limits from percentages of the available memory', () => {
    const c = { ...defaultMemoryLimiterConfig(), limit_percentage: 50, spike_limit_percentage: 10 };
    expect(resolveMemoryLimits(c, 1000 * MIB)).toMatchObject({ hardBytes: 500 * MIB, softBytes: 400 * MIB, checkIntervalMs: 1000 });
  });

  it.each([
    ['no limit', {}],
    ['both limits', { limit_mib: 10, limit_percentage: 10 }],
    ['spike not below the limit', { limit_mib: 10, spike_limit_mib: 10 }],
    ['spike percentage not below the limit', { limit_percentage: 10, spike_limit_percentage: 20 }],
    ['zero check interval', { limit_mib: 10, check_interval: 0 as const }],
  ])('refuses %s with SONDE_MEMORY_LIMITER_CONFIG', (_name, over) => {
    expect(() => resolveMemoryLimits({ ...defaultMemoryLimiterConfig(), ...over }, 1000 * MIB)).toThrow(
      expect.objectContaining({ code: 'SONDE_MEMORY_LIMITER_CONFIG' }),
    );
  });

  it('the factory builds a limiter from a valid config', () => {
    const telemetry = new SelfTelemetry({ processMetrics: false });
    const p = memoryLimiterProcessorFactory.create(
      { id: parseComponentId('memory_limiter')!, logger: createSilentLogger(), telemetry, configDir: '/', backpressure: { shouldRefuse: () => false }, pipeline: 'traces' },
      { ...memoryLimiterProcessorFactory.createDefaultConfig(), limit_mib: 64 },
      new Sink(),
    ) as MemoryLimiter;
    expect(p.limits.hardBytes).toBe(64 * MIB);
  });
});

describe('memory_limiter processor', () => {
  it('passes data through below the soft limit', async () => {
    const memory = { used: 50 * MIB };
    const { limiter, sink, pressure } = limiterWith(memory);
    await limiter.start();
    await limiter.consume(spanBatch(0, 7));
    expect(sink.items).toBe(7);
    expect(pressure.shouldRefuse()).toBe(false);
    await limiter.shutdown();
  });

  it('refuses with a retryable SondeError above the soft limit, counts each refused item once, and raises the pressure signal', async () => {
    const memory = { used: 50 * MIB };
    const { limiter, sink, telemetry, pressure, tick } = limiterWith(memory);
    await limiter.start();
    memory.used = 85 * MIB;
    tick(1000);
    limiter.check();
    expect(limiter.level).toBe('soft');
    expect(pressure.shouldRefuse()).toBe(true);
    // Through the graph's receiver accounting, as a receiver would push.
    const receiverSide = countReceiverItems('otlp', limiter, telemetry);
    const err = await receiverSide.consume(spanBatch(0, 5)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SondeError);
    expect((err as SondeError).code).toBe('SONDE_MEMORY_LIMIT_EXCEEDED');
    expect((err as SondeError).retryable).toBe(true);
    await receiverSide.consume(spanBatch(5, 3)).catch(() => undefined);
    expect(sink.items).toBe(0);
    const text = await telemetry.render();
    expect(promValue(text, 'sonde_processor_refused_items_total', { processor: 'memory_limiter', pipeline: 'traces' })).toBe(8);
    expect(promValue(text, 'sonde_receiver_refused_items_total', { receiver: 'otlp' })).toBe(8);
    expect(promValue(text, 'sonde_processor_dropped_items_total')).toBeNaN();
    expect(promValue(text, 'sonde_memory_limiter_level')).toBe(1);

    memory.used = 60 * MIB;
    tick(1000);
    await receiverSide.consume(spanBatch(8, 2)); // a stale check is redone on consume
    expect(limiter.level).toBe('ok');
    expect(pressure.shouldRefuse()).toBe(false);
    expect(sink.items).toBe(2);
    await limiter.shutdown();
  });

  it('forces a GC above the hard limit, at most once a second, and accepts again when the GC freed enough', async () => {
    const memory = { used: 50 * MIB };
    let gcs = 0;
    const { limiter, telemetry, tick } = limiterWith(memory, {
      gc: () => {
        gcs++;
        memory.used -= 30 * MIB;
        return true;
      },
    });
    await limiter.start();
    memory.used = 120 * MIB;
    tick(1000);
    expect(limiter.check()).toBe('soft'); // 120 MiB, GC frees 30: 90 MiB is above the soft limit only
    expect(gcs).toBe(1);
    memory.used = 130 * MIB;
    tick(200);
    expect(limiter.check()).toBe('hard'); // no second GC within a second
    expect(gcs).toBe(1);
    tick(1000);
    memory.used = 100 * MIB;
    expect(limiter.check()).toBe('ok'); // 100 -> 70 after GC
    expect(gcs).toBe(2);
    expect(promValue(await telemetry.render(), 'sonde_memory_limiter_forced_gc_total')).toBe(2);
    await limiter.shutdown();
  });

  it('above the soft limit forces a GC at most every min_gc_interval_when_soft_limited', async () => {
    const memory = { used: 85 * MIB };
    let gcs = 0;
    const { limiter, tick } = limiterWith(memory, { gc: () => (gcs++, true) });
    await limiter.start(); // first check at t=0: soft, one GC
    expect(gcs).toBe(1);
    for (let i = 0; i < 9; i++) {
      tick(1000);
      limiter.check();
    }
    expect(gcs).toBe(1);
    tick(1000);
    limiter.check();
    expect(gcs).toBe(2);
    memory.used = 50 * MIB;
    tick(20_000);
    limiter.check();
    expect(gcs).toBe(2); // no GC below the soft limit
    await limiter.shutdown();
  });

  it('several limiters share one pressure signal; shutdown releases it', async () => {
    const pressure = new MemoryPressure();
    const a = limiterWith({ used: 90 * MIB }, { pressure, pipeline: 'traces/a' });
    const b = limiterWith({ used: 10 * MIB }, { pressure, pipeline: 'traces/b' });
    await a.limiter.start();
    await b.limiter.start();
    expect(pressure.shouldRefuse()).toBe(true);
    expect(pressure.level()).toBe('soft');
    await a.limiter.shutdown();
    expect(pressure.shouldRefuse()).toBe(false);
    await b.limiter.shutdown();
  });

  it('can force a real garbage collection without --expose-gc', () => {
    expect(forceGc()).toBe(true);
  });
});
