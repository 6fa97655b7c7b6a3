// Lifecycle conformance for every registered component, generated from the registry:
// shutdown before start, shutdown twice, and start -> consume -> shutdown with every item accounted for.
import { describe, expect, it } from 'vitest';
import type { Consumer, CreateSettings, Exporter, Processor, Receiver } from '../../src/component/types.js';
import { FACTORIES } from '../../src/components.js';
import { compileSchema } from '../../src/config/ajv.js';
import { mergeOverDefaults } from '../../src/config/merge.js';
import { countItems } from '../../src/pdata/count.js';
import type { Signal, TelemetryBatch } from '../../src/pdata/types.js';
import { createSilentLogger } from '../../src/telemetry/logger.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import { sampleMetrics, sampleTraces } from '../helpers/sample-data.js';
import { CONFORMANCE_OVERRIDES } from './conformance-overrides.js';

function settings(type: string, telemetry: SelfTelemetry): CreateSettings & { pipeline: string } {
  return {
    id: { type, name: 'conformance', key: `${type}/conformance` },
    logger: createSilentLogger(),
    telemetry,
    configDir: process.cwd(),
    backpressure: { shouldRefuse: () => false },
    pipeline: 'traces',
  };
}

class Capture implements Consumer {
  readonly mutatesData = false;
  items = 0;
  async consume(batch: TelemetryBatch): Promise<void> {
    this.items += countItems(batch);
  }
}

const sample = (signal: Signal): TelemetryBatch => (signal === 'traces' ? sampleTraces(3) : sampleMetrics());

async function metric(t: SelfTelemetry, name: string, label: Record<string, string>): Promise<number> {
  const m = await t.registry.getSingleMetric(name)?.get();
  return (m?.values ?? []).filter((v) => Object.entries(label).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0);
}

function configFor(kind: string, type: string, defaults: unknown): unknown {
  return mergeOverDefaults(defaults, CONFORMANCE_OVERRIDES[`${kind}/${type}`] ?? {});
}

describe.each(FACTORIES.map((f) => [`${f.kind} ${f.type}`, f] as const))('%s', (_name, factory) => {
  it('has a pure default config that its own schema accepts (with sandbox overrides)', () => {
    const a = factory.createDefaultConfig();
    const b = factory.createDefaultConfig();
    expect(a).toEqual(b);
    expect(a).not.toBe(b);
    const validate = compileSchema(factory.configSchema);
    const ok = validate(configFor(factory.kind, factory.type, a));
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    // The component's own checks (factory validateConfig, run by `sonde validate`) accept it too.
    expect(factory.validateConfig?.(configFor(factory.kind, factory.type, a)) ?? []).toEqual([]);
  });

  it('shuts down before start, and twice, without error', async () => {
    const t = new SelfTelemetry({ processMetrics: false });
    const cfg = configFor(factory.kind, factory.type, factory.createDefaultConfig());
    let c: Receiver | Processor | Exporter;
    if (factory.kind === 'receiver') c = factory.create(settings(factory.type, t), cfg, { traces: new Capture(), metrics: new Capture() });
    else if (factory.kind === 'processor') c = factory.create(settings(factory.type, t), cfg, new Capture());
    else c = factory.create(settings(factory.type, t), cfg);
    await c.shutdown();
    await c.shutdown();
  });

  it('starts, consumes every signal it supports, shuts down, and accounts for every item', async () => {
    const t = new SelfTelemetry({ processMetrics: false });
    const s = settings(factory.type, t);
    const cfg = configFor(factory.kind, factory.type, factory.createDefaultConfig());
    if (factory.kind === 'receiver') {
      const next = { traces: new Capture(), metrics: new Capture() };
      const r = factory.create(s, cfg, next);
      await r.start();
      await r.shutdown();
      await r.shutdown();
      return;
    }
    for (const signal of factory.signals) {
      if (factory.kind === 'processor') {
        const out = new Capture();
        const p = factory.create(s, cfg, out);
        await p.start();
        const batch = sample(signal);
        const n = countItems(batch);
        await p.consume(batch);
        await p.shutdown();
        const dropped = await metric(t, 'sonde_processor_dropped_items_total', { processor: s.id.key });
        expect(out.items + dropped).toBe(n);
      } else {
        const e = factory.create(s, cfg);
        await e.start();
        const batch = sample(signal);
        const n = countItems(batch);
        const before =
          (await metric(t, 'sonde_exporter_sent_items_total', { exporter: s.id.key })) +
          (await metric(t, 'sonde_exporter_send_failed_items_total', { exporter: s.id.key })) +
          (await metric(t, 'sonde_exporter_enqueue_failed_items_total', { exporter: s.id.key }));
        await e.consume(batch).catch(() => undefined);
        await e.shutdown();
        const after =
          (await metric(t, 'sonde_exporter_sent_items_total', { exporter: s.id.key })) +
          (await metric(t, 'sonde_exporter_send_failed_items_total', { exporter: s.id.key })) +
          (await metric(t, 'sonde_exporter_enqueue_failed_items_total', { exporter: s.id.key }));
        expect(after - before).toBe(n);
      }
    }
  });
});
