import { describe, expect, it } from 'vitest';
import { HTTP_DURATION_BOUNDS, DurationHistogram } from '../../src/receivers/ebpf/http/duration-histograms.js';
import { createDefaultHttpConfig, validateHttpConfig } from '../../src/receivers/ebpf/http/config.js';
import * as L from '../../src/receivers/ebpf/http/event-layout.js';
import { HttpPipeline } from '../../src/receivers/ebpf/http/http-pipeline.js';
import { createRouteNormalizer, heuristicRoute, ROUTE_OVERFLOW } from '../../src/receivers/ebpf/http/route-normalizer.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import { SpanKind, StatusCode, type HistogramDataPoint } from '../../src/pdata/types.js';
import { buildRecord, type RecordFields } from './http-record.js';

function pipeline(over: Partial<ReturnType<typeof createDefaultHttpConfig>> = {}) {
  const telemetry = new SelfTelemetry({ processMetrics: false });
  const p = new HttpPipeline({
    config: { ...createDefaultHttpConfig(), ...over },
    telemetry,
    receiver: 'ebpf',
    hostName: 'testhost',
    toUnixNs: (ns) => ns + 1_000_000_000_000n,
    nowUnixNs: () => 5_000_000_000_000n,
  });
  const feed = (f: RecordFields) => {
    const r = buildRecord(f);
    p.handle(r.view, r.offset, r.length);
  };
  return { p, feed, telemetry };
}

describe('route normalizer', () => {
  it('applies configured patterns first, then the id heuristic', () => {
    const n = createRouteNormalizer({ patterns: ['/api/{version}/items', '/static/*'], heuristic: true, maxRoutes: 100 });
    expect(n.route('/api/v2/items')).toBe('/api/{version}/items');
    expect(n.route('/static/css/a.css')).toBe('/static/*');
    expect(n.route('/users/123')).toBe('/users/{id}');
    expect(n.route('/orders/550e8400-e29b-41d4-a716-446655440000/lines/7')).toBe('/orders/{id}/lines/{id}');
    expect(n.route('/blobs/9f86d081884c7d659a2feaa0c55ad015')).toBe('/blobs/{id}');
    expect(n.route('/about')).toBe('/about');
    expect(heuristicRoute('/deadbeef0123456789')).toBe('/{id}');
    expect(heuristicRoute('/v1/9f86d081884c')).toBe('/v1/9f86d081884c'); // short hex: kept
    expect(heuristicRoute('/abcdefabcdefabcdef')).toBe('/abcdefabcdefabcdef'); // hex letters only: a word, not an id
  });

  it('returns no route without a pattern match when the heuristic is off', () => {
    const n = createRouteNormalizer({ patterns: ['/users/{id}'], heuristic: false, maxRoutes: 100 });
    expect(n.route('/users/5')).toBe('/users/{id}');
    expect(n.route('/users/5/x')).toBeUndefined();
  });

  it('caps distinct routes and counts the overflow', () => {
    let overflow = 0;
    const n = createRouteNormalizer({ patterns: [], heuristic: true, maxRoutes: 3, onOverflow: () => overflow++ });
    for (const p of ['/a', '/b', '/c', '/a', '/d', '/e', '/b']) n.route(p);
    expect(n.size).toBe(3);
    expect(overflow).toBe(2);
    expect(n.route('/f')).toBe(ROUTE_OVERFLOW);
    expect(n.route('/c')).toBe('/c');
  });
});

describe('duration histogram', () => {
  it('counts into the semantic-convention buckets, upper bounds inclusive, cumulatively', () => {
    const h = new DurationHistogram({ name: 'x', description: '', unit: 's', maxSeries: 10 });
    const res = { attributes: {} };
    for (const s of [0, 0.005, 0.0051, 0.3, 20]) h.record(res, 'r', 'k', () => ({ a: 1 }), s, 1n);
    const m = h.collect(2n).get('r')!.metric;
    expect(m.type).toBe('histogram');
    const dp = (m as { dataPoints: HistogramDataPoint[] }).dataPoints[0]!;
    expect(dp.explicitBounds).toEqual(HTTP_DURATION_BOUNDS);
    expect(dp.bucketCounts).toEqual([1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1]);
    expect(dp.count).toBe(5);
    expect(dp.min).toBe(0);
    expect(dp.max).toBe(20);
    h.record(res, 'r', 'k', () => ({ a: 1 }), 1, 3n);
    const dp2 = (h.collect(4n).get('r')!.metric as { dataPoints: HistogramDataPoint[] }).dataPoints[0]!;
    expect(dp2.count).toBe(6);
    expect(dp2.startTimeUnixNano).toBe(1n);
    expect(dp2.timeUnixNano).toBe(4n);
  });

  it('sends series beyond the cap to one overflow series', () => {
    let overflow = 0;
    const h = new DurationHistogram({ name: 'x', description: '', unit: 's', maxSeries: 2, onOverflow: () => overflow++ });
    const res = { attributes: {} };
    for (const k of ['a', 'b', 'c', 'd', 'a']) h.record(res, 'r', k, () => ({ k }), 0.1, 1n);
    const dps = (h.collect(2n).get('r')!.metric as { dataPoints: HistogramDataPoint[] }).dataPoints;
    expect(dps.map((d) => [d.attributes, d.count])).toEqual([
      [{ k: 'a' }, 2],
      [{ k: 'b' }, 1],
      [{ 'otel.metric.overflow': true }, 2],
    ]);
    expect(overflow).toBe(2);
  });
});

describe('http pipeline', () => {
  it('turns a server exchange into a SERVER span and a histogram point', () => {
    const { p, feed } = pipeline();
    feed({ role: L.ROLE_SERVER, status: 503, startNs: 1_000n, endNs: 2_501_000n, request: 'POST /users/42/orders?card=1234 HTTP/1.1\r\nHost: shop.local:8080\r\n\r\n', comm: 'node', tgid: 321 });
    const t = p.takeSpans()!;
    expect(t.resourceSpans).toHaveLength(1);
    expect(t.resourceSpans[0]!.resource.attributes).toEqual({ 'service.name': 'node', 'service.instance.id': 'testhost:321', 'process.pid': 321, 'process.executable.name': 'node', 'host.name': 'testhost' });
    const span = t.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    expect(span.name).toBe('POST /users/{id}/orders');
    expect(span.kind).toBe(SpanKind.SERVER);
    expect(span.status.code).toBe(StatusCode.ERROR);
    expect(span.startTimeUnixNano).toBe(1_000_000_001_000n);
    expect(span.endTimeUnixNano).toBe(1_000_002_501_000n);
    expect(span.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(span.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(span.parentSpanId).toBeUndefined();
    expect(span.attributes).toEqual({
      'http.request.method': 'POST',
      'http.response.status_code': 503,
      'url.path': '/users/42/orders',
      'http.route': '/users/{id}/orders',
      'server.address': 'shop.local',
      'server.port': 8080,
      'client.address': '127.0.0.2',
      'network.peer.address': '127.0.0.2',
      'network.peer.port': 50000,
      'network.protocol.version': '1.1',
    });
    expect(JSON.stringify(t, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).not.toContain('1234');
    expect(p.takeSpans()).toBeUndefined();

    const m = p.collectMetrics()!;
    const metric = m.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!;
    expect(metric.name).toBe('http.server.request.duration');
    expect(metric.unit).toBe('s');
    const dp = (metric as { dataPoints: HistogramDataPoint[] }).dataPoints[0]!;
    expect(dp.attributes).toEqual({ 'http.request.method': 'POST', 'http.response.status_code': 503, 'http.route': '/users/{id}/orders', 'server.port': 8080, 'network.protocol.version': '1.1' });
    expect(dp.count).toBe(1);
    expect(dp.sum).toBeCloseTo(0.0025, 9);
  });

  it('marks client 4xx as errors, server 4xx not, and uses the traceparent', () => {
    const { p, feed } = pipeline();
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    feed({ role: L.ROLE_CLIENT, status: 404, request: `GET /missing HTTP/1.1\r\nHost: 127.0.0.1:9000\r\ntraceparent: ${tp}\r\n\r\n`, comm: 'curl', remotePort: 9000 });
    feed({ role: L.ROLE_SERVER, status: 404, request: `GET /missing HTTP/1.1\r\nHost: 127.0.0.1:9000\r\ntraceparent: ${tp}\r\n\r\n`, comm: 'python3' });
    const spans = p.takeSpans()!.resourceSpans.flatMap((r) => r.scopeSpans[0]!.spans);
    const client = spans.find((s) => s.kind === SpanKind.CLIENT)!;
    const server = spans.find((s) => s.kind === SpanKind.SERVER)!;
    expect(client.status.code).toBe(StatusCode.ERROR);
    expect(server.status.code).toBe(StatusCode.UNSET);
    for (const s of [client, server]) {
      expect(s.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
      expect(s.parentSpanId).toBe('00f067aa0ba902b7');
    }
    expect(client.attributes['client.address']).toBeUndefined();
    expect(client.attributes['server.port']).toBe(9000);
    const metrics = p.collectMetrics()!.resourceMetrics.flatMap((r) => r.scopeMetrics[0]!.metrics.map((m) => m.name)).sort();
    expect(metrics).toEqual(['http.client.request.duration', 'http.server.request.duration']);
  });

  it('keeps the query and chosen headers only when configured', () => {
    const { p, feed } = pipeline({ keep_query: true, capture_headers: ['X-Request-Id'] });
    feed({ request: 'GET /a?b=c HTTP/1.1\r\nX-Request-Id: r1\r\nAuthorization: Bearer zzz\r\n\r\n' });
    const s = p.takeSpans()!.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    expect(s.attributes['url.query']).toBe('b=c');
    expect(s.attributes['url.path']).toBe('/a');
    expect(s.attributes['http.request.header.x-request-id']).toEqual(['r1']);
    expect(JSON.stringify(s.attributes)).not.toContain('zzz');
  });

  it('counts undecodable records as lost and decode errors, and never throws', async () => {
    const { p, feed, telemetry } = pipeline();
    feed({ version: 9 });
    feed({ size: 10 });
    feed({ request: 'NOPE' });
    expect(p.stats.decodeErrors).toBe(3);
    expect(p.takeSpans()).toBeUndefined();
    const text = await telemetry.render();
    expect(text).toContain('sonde_ebpf_events_lost_total{program="http_decoder"} 3');
    expect(text).toContain('sonde_ebpf_decode_errors_total{program="http",reason="unknown_version"} 1');
    expect(text).toContain('sonde_ebpf_decode_errors_total{program="http",reason="bad_size"} 1');
  });

  it('drops and counts spans beyond max_buffered_spans', () => {
    const { p, feed } = pipeline({ max_buffered_spans: 2 });
    for (let i = 0; i < 5; i++) feed({});
    expect(p.bufferedSpans).toBe(2);
    expect(p.stats.spansDropped).toBe(3);
  });

  it('validates route patterns', () => {
    expect(validateHttpConfig({ ...createDefaultHttpConfig(), routes: ['/a/{id}', '/b/x{id}', '/c/*/d'] })).toEqual([
      'http.routes[1]: route pattern "/b/x{id}": a parameter must be a whole segment, like {id}',
      'http.routes[2]: route pattern "/c/*/d": "*" is only allowed as the last segment',
    ]);
  });
});
