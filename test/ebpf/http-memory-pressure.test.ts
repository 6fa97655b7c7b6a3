// The eBPF receiver under memory pressure (real kernel): while a memory_limiter holds the
// process-wide signal up, spans are shed before they become a batch and counted as lost
// (`sonde_ebpf_events_lost_total{program="http_memory_pressure"}`), metric ticks are skipped
// (cumulative histograms lose nothing), and once the pressure is gone both flow again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consumer } from '../../src/component/types.js';
import { parseComponentId } from '../../src/component/id.js';
import type { MetricsBatch, TelemetryBatch, TracesBatch } from '../../src/pdata/types.js';
import { ebpfReceiverFactory } from '../../src/receivers/ebpf/factory.js';
import { MEMORY_PRESSURE_LOST, type EbpfReceiver } from '../../src/receivers/ebpf/receiver.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import { pollValue } from '../helpers/poll.js';
import { promValue } from '../helpers/sonde-process.js';
import { requireBpf } from './bpf-available.js';
import { makeSettings } from './harness.js';
import { curl, startNodeServer, type RunningServer } from './http-servers.js';

const UNDER_PRESSURE = 20;
const AFTER = 5;

const spanCount = (batches: TracesBatch[]): number =>
  batches.reduce((n, b) => n + b.resourceSpans.reduce((m, rs) => m + rs.scopeSpans.reduce((k, ss) => k + ss.spans.length, 0), 0), 0);

/** The server side's request count from the last metrics batch (cumulative). */
function serverRequests(batch: MetricsBatch | undefined): number {
  let n = 0;
  for (const rm of batch?.resourceMetrics ?? [])
    for (const sm of rm.scopeMetrics)
      for (const m of sm.metrics) if (m.name === 'http.server.request.duration' && m.type === 'histogram') for (const dp of m.dataPoints) n += dp.count;
  return n;
}

describe('eBPF receiver under memory pressure (real kernel)', () => {
  const bpf = requireBpf();
  const traces: TracesBatch[] = [];
  const metrics: MetricsBatch[] = [];
  const collect = (into: TelemetryBatch[]): Consumer => ({ mutatesData: false, consume: async (b) => void into.push(b) });
  let refusing = true;
  let receiver: EbpfReceiver | undefined;
  let server: RunningServer | undefined;
  let telemetry: SelfTelemetry;
  const seen = { lostUnderPressure: 0, spansUnderPressure: -1, metricBatchesUnderPressure: -1, skippedTicks: 0 };

  beforeAll(async () => {
    if (!bpf.ok) return;
    telemetry = new SelfTelemetry({ processMetrics: false });
    server = await startNodeServer();
    const defaults = ebpfReceiverFactory.createDefaultConfig();
    receiver = ebpfReceiverFactory.create(
      // id `ebpf` (not makeSettings' `ebpf/test`): the skipped-ticks assertions read receiver="ebpf"
      { ...makeSettings(telemetry), id: parseComponentId('ebpf')!, backpressure: { shouldRefuse: () => refusing } },
      { ...defaults, collection_interval: '200ms', tcp: { enabled: false }, include: { ...defaults.include, ports: [server.port] } },
      { traces: collect(traces as TelemetryBatch[]), metrics: collect(metrics as TelemetryBatch[]) },
    ) as EbpfReceiver;
    await receiver.start();

    // Under pressure: every span (curl's CLIENT and the server's SERVER side) is shed and counted.
    const codes = await curl([], Array.from({ length: UNDER_PRESSURE }, (_, i) => `http://127.0.0.1:${server!.port}/items/${i}`));
    expect(codes.map((c) => c.code)).toEqual(Array(UNDER_PRESSURE).fill(200));
    seen.lostUnderPressure = await pollValue(
      async () => promValue(await telemetry.render(), 'sonde_ebpf_events_lost_total', { program: MEMORY_PRESSURE_LOST }),
      (n) => n >= 2 * UNDER_PRESSURE,
      20_000,
    );
    // A few more collection intervals, still under pressure: no metrics go out either.
    await pollValue(() => receiver!.stats.skippedTicks, (n) => n >= 3, 20_000);
    seen.spansUnderPressure = spanCount(traces);
    seen.metricBatchesUnderPressure = metrics.length;
    seen.skippedTicks = receiver.stats.skippedTicks;

    // Pressure gone: spans flow again, and the histograms counted the shed requests too.
    refusing = false;
    const after = await curl([], Array.from({ length: AFTER }, (_, i) => `http://127.0.0.1:${server!.port}/after/${i}`));
    expect(after.map((c) => c.code)).toEqual(Array(AFTER).fill(200));
    await pollValue(() => spanCount(traces), (n) => n >= 2 * AFTER, 20_000);
    await receiver.shutdown(); // drains the ring and sends the last cumulative metrics
  }, 120_000);

  afterAll(async () => {
    await receiver?.shutdown();
    await server?.stop();
  });

  it.runIf(bpf.ok)('sheds every span while memory is above the soft limit and counts each as lost', () => {
    expect(seen.lostUnderPressure).toBe(2 * UNDER_PRESSURE);
    expect(seen.spansUnderPressure).toBe(0);
    expect(receiver!.stats.spansShed).toBe(2 * UNDER_PRESSURE);
  });

  it.runIf(bpf.ok)('skips metric ticks while under pressure instead of sending what would be refused, and counts them', async () => {
    expect(seen.metricBatchesUnderPressure).toBe(0);
    expect(seen.skippedTicks).toBeGreaterThanOrEqual(3);
    const text = await telemetry.render();
    const skipped = promValue(text, 'sonde_ebpf_collections_skipped_total', { receiver: 'ebpf', reason: 'memory_pressure' });
    expect(skipped).toBe(receiver!.stats.skippedTicks - promValue(text, 'sonde_ebpf_collections_skipped_total', { receiver: 'ebpf', reason: 'pipeline_busy' }));
    expect(skipped).toBeGreaterThanOrEqual(3);
  });

  it.runIf(bpf.ok)('once the pressure is gone, sends the new spans and cumulative histograms that include the shed requests', async () => {
    expect(spanCount(traces)).toBe(2 * AFTER);
    expect(serverRequests(metrics.at(-1))).toBe(UNDER_PRESSURE + AFTER);
    expect(promValue(await telemetry.render(), 'sonde_ebpf_events_lost_total', { program: MEMORY_PRESSURE_LOST })).toBe(2 * UNDER_PRESSURE);
  });
});
