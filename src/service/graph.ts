// Builds running components from a resolved config: exporters once per id, processors once per
// pipeline, receivers once per id feeding every pipeline that lists them.
import type { Backpressure, Consumer, CreateSettings, Exporter, Processor, Receiver } from '../component/types.js';
import type { ResolvedConfig, ResolvedComponent } from '../config/resolve.js';
import type { Signal } from '../pdata/types.js';
import type { Logger } from '../telemetry/logger.js';
import type { SelfTelemetry } from '../telemetry/self-telemetry.js';
import { createFanout } from './fanout.js';
import { countReceiverItems } from './receiver-accounting.js';
import { dirname, resolve } from 'node:path';

export interface BuiltGraph {
  receivers: Array<{ key: string; component: Receiver }>;
  /** In pipeline order, per pipeline. */
  processors: Array<{ key: string; pipeline: string; component: Processor }>;
  exporters: Array<{ key: string; component: Exporter }>;
}

export interface GraphContext {
  logger: Logger;
  telemetry: SelfTelemetry;
  backpressure: Backpressure;
  shutdownTimeoutMs: number;
}

export function buildGraph(config: ResolvedConfig, ctx: GraphContext): BuiltGraph {
  const configDir = dirname(resolve(config.file));
  const settingsFor = (c: ResolvedComponent): CreateSettings => ({
    id: c.id,
    logger: ctx.logger.child({ component: `${c.kind}/${c.id.key}` }),
    telemetry: ctx.telemetry,
    configDir,
    backpressure: ctx.backpressure,
    shutdownTimeoutMs: ctx.shutdownTimeoutMs,
  });

  const exporters = new Map<string, Exporter>();
  for (const [key, c] of config.exporters) {
    if (c.factory.kind !== 'exporter') continue;
    exporters.set(key, c.factory.create(settingsFor(c), c.config));
  }

  const processors: BuiltGraph['processors'] = [];
  // For each signal, the entry consumers of the pipelines each receiver feeds.
  const entries = new Map<string, Map<Signal, Consumer[]>>();
  for (const p of config.pipelines) {
    let next: Consumer = createFanout(p.exporters.map((e) => exporters.get(e)!));
    const chain: BuiltGraph['processors'] = [];
    for (let i = p.processors.length - 1; i >= 0; i--) {
      const key = p.processors[i]!;
      const c = config.processors.get(key)!;
      if (c.factory.kind !== 'processor') continue;
      const proc = c.factory.create({ ...settingsFor(c), pipeline: p.name }, c.config, next);
      chain.unshift({ key, pipeline: p.name, component: proc });
      next = proc;
    }
    processors.push(...chain);
    for (const r of p.receivers) {
      const bySignal = entries.get(r) ?? new Map<Signal, Consumer[]>();
      entries.set(r, bySignal);
      const list = bySignal.get(p.signal) ?? [];
      list.push(next);
      bySignal.set(p.signal, list);
    }
  }

  const receivers: BuiltGraph['receivers'] = [];
  for (const [key, c] of config.receivers) {
    if (c.factory.kind !== 'receiver') continue;
    const next: Partial<Record<Signal, Consumer>> = {};
    for (const [signal, consumers] of entries.get(key) ?? []) {
      next[signal] = countReceiverItems(key, createFanout(consumers), ctx.telemetry);
    }
    receivers.push({ key, component: c.factory.create(settingsFor(c), c.config, next) });
  }

  return { receivers, processors, exporters: [...exporters].map(([key, component]) => ({ key, component })) };
}
