import { AggregationTemporality, SpanKind, StatusCode, type MetricsBatch, type TracesBatch } from '../../src/pdata/types.js';

/** A small traces batch: one root SERVER span and one CLIENT child, with an event and a link. */
export function sampleTraces(spanCount = 2, resourceName = 'checkout'): TracesBatch {
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const spans = [];
  for (let i = 0; i < spanCount; i++) {
    spans.push({
      traceId,
      spanId: (0x1000000000000000n + BigInt(i)).toString(16),
      parentSpanId: i === 0 ? undefined : '1000000000000000',
      name: i === 0 ? 'GET /users/{id}' : `SELECT ${i}`,
      kind: i === 0 ? SpanKind.SERVER : SpanKind.CLIENT,
      startTimeUnixNano: 1_700_000_000_123_456_789n + BigInt(i),
      endTimeUnixNano: 1_700_000_000_223_456_789n + BigInt(i),
      attributes: { 'http.request.method': 'GET', 'server.port': 8080, 'sonde.ratio': 0.5, ok: true, tags: ['a', 'b'] },
      events: i === 0 ? [{ timeUnixNano: 1_700_000_000_150_000_000n, name: 'cache.miss', attributes: { key: 'u:1' } }] : [],
      links: [],
      status: { code: i === 0 ? StatusCode.OK : StatusCode.UNSET },
    });
  }
  return {
    signal: 'traces',
    resourceSpans: [
      {
        resource: { attributes: { 'service.name': resourceName, 'process.pid': 42 } },
        scopeSpans: [{ scope: { name: 'sonde.ebpf', version: '0.1.0' }, spans }],
      },
    ],
  };
}

/** A metrics batch with a counter and a histogram, shaped like the eBPF receiver's output. */
export function sampleMetrics(): MetricsBatch {
  const t0 = 1_700_000_000_000_000_000n;
  const t1 = t0 + 10_000_000_000n;
  return {
    signal: 'metrics',
    resourceMetrics: [
      {
        resource: { attributes: { 'service.name': 'curl', 'process.pid': 7 } },
        scopeMetrics: [
          {
            scope: { name: 'sonde.ebpf' },
            metrics: [
              {
                name: 'sonde.tcp.connections',
                unit: '{connection}',
                type: 'sum',
                isMonotonic: true,
                aggregationTemporality: AggregationTemporality.CUMULATIVE,
                dataPoints: [
                  { attributes: { 'sonde.tcp.outcome': 'success', 'server.port': 8080 }, startTimeUnixNano: t0, timeUnixNano: t1, value: 200, isInt: true },
                  { attributes: { 'sonde.tcp.outcome': 'refused', 'server.port': 8081 }, startTimeUnixNano: t0, timeUnixNano: t1, value: 50, isInt: true },
                ],
              },
              {
                name: 'sonde.tcp.connect.duration',
                unit: 's',
                type: 'histogram',
                aggregationTemporality: AggregationTemporality.CUMULATIVE,
                dataPoints: [
                  {
                    attributes: { 'server.port': 8080 },
                    startTimeUnixNano: t0,
                    timeUnixNano: t1,
                    count: 3,
                    sum: 0.003,
                    min: 0.0005,
                    max: 0.0015,
                    explicitBounds: [0.001, 0.01],
                    bucketCounts: [1, 2, 0],
                  },
                ],
              },
            ],
          },
        ],
      },
    ],
  };
}
