// Batches used across the OTLP tests.
import type { MetricsBatch, TracesBatch } from '../../src/pdata/types.js';

export function sampleTraces(traceId = '0af7651916cd43dd8448eb211c80319c'): TracesBatch {
  return {
    signal: 'traces',
    resourceSpans: [
      {
        resource: { attributes: { 'service.name': 'checkout', 'process.pid': 4242, 'host.name': 'node-1' } },
        scopeSpans: [
          {
            scope: { name: 'sonde.test', version: '1.0.0' },
            spans: [
              {
                traceId,
                spanId: 'b7ad6b7169203331',
                name: 'GET /cart',
                kind: 2,
                startTimeUnixNano: 1_700_000_000_123_456_789n,
                endTimeUnixNano: 1_700_000_000_223_456_789n,
                attributes: { 'http.request.method': 'GET', 'http.response.status_code': 200, 'url.path': '/cart', ratio: 0.5, cached: false, tags: ['a', 'b'] },
                events: [{ timeUnixNano: 1_700_000_000_150_000_000n, name: 'cache.miss', attributes: { key: 'cart:42' } }],
                links: [],
                status: { code: 0 },
              },
              {
                traceId,
                spanId: '00f067aa0ba902b7',
                parentSpanId: 'b7ad6b7169203331',
                name: 'SELECT carts',
                kind: 3,
                startTimeUnixNano: 1_700_000_000_130_000_000n,
                endTimeUnixNano: 1_700_000_000_180_000_000n,
                attributes: { 'db.system': 'postgresql', 'server.port': 5432 },
                events: [],
                links: [],
                status: { code: 2, message: 'timeout' },
              },
            ],
          },
        ],
      },
    ],
  };
}

export function sampleMetrics(): MetricsBatch {
  const t0 = 1_700_000_000_000_000_000n;
  const t1 = 1_700_000_010_000_000_000n;
  return {
    signal: 'metrics',
    resourceMetrics: [
      {
        resource: { attributes: { 'service.name': 'sonde' } },
        scopeMetrics: [
          {
            scope: { name: 'sonde.test' },
            metrics: [
              { name: 'sonde.tcp.connections', unit: '{connection}', type: 'sum', aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ attributes: { 'sonde.tcp.outcome': 'success' }, startTimeUnixNano: t0, timeUnixNano: t1, value: 7, isInt: true }] },
              { name: 'queue.depth', type: 'gauge', dataPoints: [{ attributes: {}, startTimeUnixNano: t0, timeUnixNano: t1, value: 2.5 }] },
              {
                name: 'http.server.request.duration',
                unit: 's',
                type: 'histogram',
                aggregationTemporality: 2,
                dataPoints: [{ attributes: { 'http.request.method': 'GET' }, startTimeUnixNano: t0, timeUnixNano: t1, count: 3, sum: 0.6, min: 0.1, max: 0.3, explicitBounds: [0.1, 0.25, 0.5], bucketCounts: [1, 1, 1, 0] }],
              },
            ],
          },
        ],
      },
    ],
  };
}
