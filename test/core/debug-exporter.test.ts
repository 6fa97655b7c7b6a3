// The debug exporter's output at each verbosity, through the factory as `sonde run` builds it:
// what a user sees on stdout (the quick start's first command shows it).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseComponentId } from '../../src/component/id.js';
import { debugExporterFactory } from '../../src/exporters/debug/factory.js';
import type { Verbosity } from '../../src/exporters/debug/format.js';
import { createSilentLogger } from '../../src/telemetry/logger.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import { sampleMetrics, sampleTraces } from '../helpers/sample-data.js';

async function printed(verbosity: Verbosity): Promise<{ lines: string[]; sent: number }> {
  const telemetry = new SelfTelemetry({ processMetrics: false });
  const exporter = debugExporterFactory.create(
    { id: parseComponentId('debug')!, logger: createSilentLogger(), telemetry, configDir: '.', backpressure: { shouldRefuse: () => false } },
    { verbosity },
  );
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true));
  try {
    await exporter.start();
    await exporter.consume(sampleTraces(2));
    await exporter.consume(sampleMetrics());
    await exporter.shutdown();
  } finally {
    spy.mockRestore();
  }
  const m = telemetry.registry.getSingleMetric('sonde_exporter_sent_items_total');
  const sent = (await m!.get()).values.find((v) => v.labels.exporter === 'debug')?.value ?? 0;
  return { lines: out.trimEnd().split('\n'), sent };
}

describe('debug exporter', () => {
  afterEach(() => vi.restoreAllMocks());

  it('basic: one summary line per batch', async () => {
    const { lines, sent } = await printed('basic');
    expect(lines).toEqual(['Traces: 1 resource(s), 2 span(s)', 'Metrics: 1 resource(s), 3 data point(s)']);
    expect(sent).toBe(5);
  });

  it('normal: the resource, then one line per span and per data point', async () => {
    const { lines } = await printed('normal');
    expect(lines).toEqual([
      'Traces: 1 resource(s), 2 span(s)',
      'Resource {service.name="checkout" process.pid=42}',
      '  SERVER "GET /users/{id}" trace=0af7651916cd43dd8448eb211c80319c span=1000000000000000 100.000ms status=Ok',
      '  CLIENT "SELECT 1" trace=0af7651916cd43dd8448eb211c80319c span=1000000000000001 parent=1000000000000000 100.000ms status=Unset',
      'Metrics: 1 resource(s), 3 data point(s)',
      'Resource {service.name="curl" process.pid=7}',
      '  sonde.tcp.connections sum [{connection}] value=200 {sonde.tcp.outcome="success" server.port=8080}',
      '  sonde.tcp.connections sum [{connection}] value=50 {sonde.tcp.outcome="refused" server.port=8081}',
      '  sonde.tcp.connect.duration histogram [s] count=3 sum=0.003 {server.port=8080}',
    ]);
  });

  it('detailed: adds times, scope, attributes, events and histogram buckets', async () => {
    const { lines } = await printed('detailed');
    expect(lines).toContain('    start=2023-11-14T22:13:20.123456789Z end=2023-11-14T22:13:20.223456789Z scope=sonde.ebpf');
    expect(lines).toContain('    attributes: http.request.method="GET" server.port=8080 sonde.ratio=0.5 ok=true tags=["a", "b"]');
    expect(lines).toContain('    event 2023-11-14T22:13:20.150000000Z "cache.miss" key="u:1"');
    expect(lines).toContain('  sonde.tcp.connect.duration histogram [s] count=3 sum=0.003 buckets=1,2,0 bounds=0.001,0.01 {server.port=8080}');
    // Every normal line but the histogram's (which gains its buckets) is still there, in order.
    const normal = (await printed('normal')).lines.filter((l) => !l.includes('histogram'));
    expect(lines.filter((l) => normal.includes(l))).toEqual(normal);
  });
});
