import { describe, expect, it } from 'vitest';
import { encodeOtlpRequest } from '../../src/pdata/otlp/encode.js';
import { decodeOtlpRequest } from '../../src/pdata/otlp/decode.js';
import { countItems } from '../../src/pdata/count.js';
import { cloneBatch } from '../../src/pdata/clone.js';
import { sampleMetrics, sampleTraces } from '../helpers/sample-data.js';

const json = (bytes: Uint8Array): any => JSON.parse(Buffer.from(bytes).toString('utf8'));

describe('OTLP encoding', () => {
  it('encodes traces as standard OTLP/JSON with hex ids, string timestamps and parent links', () => {
    const out = json(encodeOtlpRequest(sampleTraces(), 'json'));
    expect(out.resourceSpans).toHaveLength(1);
    const rs = out.resourceSpans[0];
    expect(rs.resource.attributes).toContainEqual({ key: 'service.name', value: { stringValue: 'checkout' } });
    expect(rs.scopeSpans).toHaveLength(1);
    expect(rs.scopeSpans[0].scope.name).toBe('sonde.ebpf');
    const [root, child] = rs.scopeSpans[0].spans;
    expect(root.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(root.kind).toBe(2);
    expect(child.kind).toBe(3);
    expect(child.parentSpanId).toBe(root.spanId);
    expect(root.startTimeUnixNano).toBe('1700000000123456789');
    expect(root.attributes).toContainEqual({ key: 'server.port', value: { intValue: 8080 } });
    expect(root.attributes).toContainEqual({ key: 'sonde.ratio', value: { doubleValue: 0.5 } });
    expect(root.events[0].name).toBe('cache.miss');
    expect(root.status.code).toBe(1);
  });

  it('encodes metrics with sums as ints and histogram buckets', () => {
    const out = json(encodeOtlpRequest(sampleMetrics(), 'json'));
    const metrics = out.resourceMetrics[0].scopeMetrics[0].metrics;
    const conns = metrics.find((m: any) => m.name === 'sonde.tcp.connections');
    expect(conns.sum.isMonotonic).toBe(true);
    expect(conns.sum.aggregationTemporality).toBe(2);
    expect(conns.sum.dataPoints.map((p: any) => p.asInt)).toEqual([200, 50]);
    const hist = metrics.find((m: any) => m.name === 'sonde.tcp.connect.duration');
    expect(hist.histogram.dataPoints[0].bucketCounts).toEqual([1, 2, 0]);
    expect(hist.histogram.dataPoints[0].explicitBounds).toEqual([0.001, 0.01]);
  });

  it('merges several resources into one metrics request', () => {
    const a = sampleMetrics();
    const b = sampleMetrics();
    b.resourceMetrics[0]!.resource.attributes['service.name'] = 'nginx';
    const both = { signal: 'metrics' as const, resourceMetrics: [...a.resourceMetrics, ...b.resourceMetrics] };
    const c = sampleMetrics();
    c.resourceMetrics[0]!.resource.attributes['service.name'] = 'redis';
    const three = { signal: 'metrics' as const, resourceMetrics: [...both.resourceMetrics, ...c.resourceMetrics] };
    expect(json(encodeOtlpRequest(both, 'json')).resourceMetrics).toHaveLength(2);
    for (const format of ['json', 'protobuf'] as const) {
      const decoded = decodeOtlpRequest('metrics', encodeOtlpRequest(three, format), format);
      expect(decoded.items).toBe(3 * countItems(a));
      const names = decoded.batch.signal === 'metrics' ? decoded.batch.resourceMetrics.map((rm) => rm.resource.attributes['service.name']) : [];
      expect(names).toEqual(['curl', 'nginx', 'redis']);
    }
    expect(json(encodeOtlpRequest({ signal: 'metrics', resourceMetrics: [] }, 'json'))).toEqual({ resourceMetrics: [] });
  });

  it('counts spans and data points, and clones deeply', () => {
    const t = sampleTraces(3);
    expect(countItems(t)).toBe(3);
    expect(countItems(sampleMetrics())).toBe(3);
    const c = cloneBatch(t);
    c.resourceSpans[0]!.resource.attributes['service.name'] = 'changed';
    expect(t.resourceSpans[0]!.resource.attributes['service.name']).toBe('checkout');
    expect(c.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.startTimeUnixNano).toBe(1_700_000_000_123_456_789n);
  });
});
