import { describe, expect, it } from 'vitest';
import { AggregationTemporality, type MetricsBatch } from '../../src/pdata/types.js';
import { DeltaToCumulative, translateMetrics } from '../../src/exporters/prometheus-naming/index.js';
import { tcpBatch } from './support/tcp-metrics.js';

const options = (copy = { enabled: false, attributes: [] as string[] }) => ({
  namespace: '',
  resourceCopy: copy,
  cumulative: new DeltaToCumulative({ maxStaleMs: 0 }),
  targetInfo: true,
});

const T0 = 1_700_000_000_000_000_000n;
const S = 1_000_000_000n;

describe('translateMetrics', () => {
  it('names, labels, job/instance and target_info', () => {
    const r = translateMetrics(tcpBatch({ timeUnixNano: T0 + 10n * S, startTimeUnixNano: T0, serverPort: 8080, connects: 5, durations: [0.0002, 0.002], temporality: 'cumulative' }), options());
    expect(r.points).toBe(2);
    expect(r.dropped).toBe(0);
    const names = r.families.map((f) => f.name).sort();
    expect(names).toEqual(['sonde_tcp_connect_duration_seconds', 'sonde_tcp_connections_total', 'target_info']);
    const conn = r.families.find((f) => f.name === 'sonde_tcp_connections_total')!;
    expect(conn.type).toBe('counter');
    expect(conn.points[0]!.value).toBe(5);
    expect(conn.points[0]!.timestampMs).toBe(Number((T0 + 10n * S) / 1_000_000n));
    expect(conn.points[0]!.labels).toEqual([
      { name: 'instance', value: 'test-host:4242' },
      { name: 'job', value: 'sonde-prom-test' },
      { name: 'network_tcp_direction', value: 'outbound' },
      { name: 'network_type', value: 'ipv4' },
      { name: 'process_executable_name', value: 'node' },
      { name: 'server_address', value: '127.0.0.1' },
      { name: 'server_port', value: '8080' },
      { name: 'sonde_tcp_outcome', value: 'success' },
    ]);
    const info = r.families.find((f) => f.name === 'target_info')!;
    expect(info.points).toHaveLength(1);
    expect(info.points[0]!.labels).toEqual([
      { name: 'host_name', value: 'test-host' },
      { name: 'instance', value: 'test-host:4242' },
      { name: 'job', value: 'sonde-prom-test' },
      { name: 'process_executable_name', value: 'node' },
      { name: 'process_pid', value: '4242' },
    ]);
    const hist = r.families.find((f) => f.name === 'sonde_tcp_connect_duration_seconds')!;
    const h = hist.points[0]!.histogram!;
    expect(h.count).toBe(2);
    // Buckets are cumulative and end with +Inf = count.
    expect(h.cumulativeCounts).toEqual([0, 1, 1, 2, 2, 2, 2, 2, 2, 2]);
    expect(h.cumulativeCounts[h.cumulativeCounts.length - 1]).toBe(h.count);
  });

  it('job is service.namespace/service.name; copies chosen resource attributes', () => {
    const batch = tcpBatch({ timeUnixNano: T0, startTimeUnixNano: T0, serverPort: 1, connects: 1, durations: [], temporality: 'cumulative' });
    batch.resourceMetrics[0]!.resource.attributes['service.namespace'] = 'shop';
    const r = translateMetrics(batch, options({ enabled: true, attributes: ['host.name'] }));
    const labels = r.families.find((f) => f.name === 'sonde_tcp_connections_total')!.points[0]!.labels;
    expect(labels.find((l) => l.name === 'job')!.value).toBe('shop/sonde-prom-test');
    expect(labels.find((l) => l.name === 'host_name')!.value).toBe('test-host');
    expect(labels.find((l) => l.name === 'process_pid')).toBeUndefined();
    // All attributes when the list is empty.
    const all = translateMetrics(batch, options({ enabled: true, attributes: [] }));
    const l2 = all.families.find((f) => f.name === 'sonde_tcp_connections_total')!.points[0]!.labels;
    expect(l2.find((l) => l.name === 'process_pid')!.value).toBe('4242');
  });

  it('converts delta sums and histograms to cumulative', () => {
    const opts = options();
    const totals: number[] = [];
    const counts: number[] = [];
    for (let i = 1; i <= 3; i++) {
      const r = translateMetrics(
        tcpBatch({ timeUnixNano: T0 + BigInt(i) * S, startTimeUnixNano: T0 + BigInt(i - 1) * S, serverPort: 9, connects: i, durations: [0.003], temporality: 'delta' }),
        opts,
      );
      const c = r.families.find((f) => f.name === 'sonde_tcp_connections_total')!.points[0]!;
      totals.push(c.value);
      counts.push(r.families.find((f) => f.name === 'sonde_tcp_connect_duration_seconds')!.points[0]!.histogram!.count);
    }
    expect(totals).toEqual([1, 3, 6]);
    expect(counts).toEqual([1, 2, 3]);
  });

  it('never sends target_info back in time when given a map of its last times', () => {
    const times = new Map<string, number>();
    const opts = { ...options(), targetInfoTimes: times };
    const batch = (sec: bigint) => tcpBatch({ timeUnixNano: T0 + sec * S, startTimeUnixNano: T0, serverPort: 1, connects: 1, durations: [], temporality: 'cumulative' });
    const infoOf = (r: ReturnType<typeof translateMetrics>) => r.families.find((f) => f.name === 'target_info')?.points.map((p) => p.timestampMs) ?? [];
    expect(infoOf(translateMetrics(batch(5n), opts))).toEqual([Number((T0 + 5n * S) / 1_000_000n)]);
    expect(infoOf(translateMetrics(batch(3n), opts))).toEqual([]);
    expect(infoOf(translateMetrics(batch(5n), opts))).toEqual([]);
    expect(infoOf(translateMetrics(batch(6n), opts))).toEqual([Number((T0 + 6n * S) / 1_000_000n)]);
    expect(times.size).toBe(1);
  });

  it('drops and counts a histogram whose bucket counts do not match its bounds', () => {
    const batch: MetricsBatch = {
      signal: 'metrics',
      resourceMetrics: [
        {
          resource: { attributes: {} },
          scopeMetrics: [
            {
              scope: { name: 't' },
              metrics: [
                {
                  name: 'bad',
                  unit: 's',
                  type: 'histogram',
                  aggregationTemporality: AggregationTemporality.CUMULATIVE,
                  dataPoints: [{ attributes: {}, startTimeUnixNano: T0, timeUnixNano: T0, count: 1, explicitBounds: [1, 2], bucketCounts: [1] }],
                },
              ],
            },
          ],
        },
      ],
    };
    const r = translateMetrics(batch, options());
    expect(r.dropped).toBe(1);
    expect(r.points).toBe(0);
    expect(r.problems[0]).toMatch(/bucket counts/);
  });
});

describe('DeltaToCumulative', () => {
  it('keeps a late delta and stamps it after the previous sample', () => {
    const d = new DeltaToCumulative({ maxStaleMs: 0 });
    const a = d.sum('k', { attributes: {}, startTimeUnixNano: T0, timeUnixNano: T0 + 2n * S, value: 2 });
    const b = d.sum('k', { attributes: {}, startTimeUnixNano: T0, timeUnixNano: T0 + 1n * S, value: 3 });
    expect(a.value).toBe(2);
    expect(b.value).toBe(5);
    expect(b.timeUnixNano).toBe(T0 + 2n * S + 1_000_000n);
    expect(b.startTimeUnixNano).toBe(T0);
  });

  it('forgets series not updated within max stale', () => {
    let now = 0;
    const d = new DeltaToCumulative({ maxStaleMs: 1000, now: () => now });
    d.sum('a', { attributes: {}, startTimeUnixNano: T0, timeUnixNano: T0 + S, value: 1 });
    now = 5000;
    const b = d.sum('b', { attributes: {}, startTimeUnixNano: T0, timeUnixNano: T0 + S, value: 1 });
    expect(b.value).toBe(1);
    expect(d.size).toBe(1);
    const a = d.sum('a', { attributes: {}, startTimeUnixNano: T0 + 4n * S, timeUnixNano: T0 + 5n * S, value: 7 });
    expect(a.value).toBe(7);
  });

  it('a series back after max stale starts a new total even when no sweep ran meanwhile', () => {
    let now = 0;
    const d = new DeltaToCumulative({ maxStaleMs: 1000, now: () => now });
    d.sum('a', { attributes: {}, startTimeUnixNano: T0, timeUnixNano: T0 + S, value: 3 });
    d.histogram('h', { attributes: {}, startTimeUnixNano: T0, timeUnixNano: T0 + S, count: 2, sum: 1, explicitBounds: [1], bucketCounts: [1, 1] });
    now = 1001; // the only traffic is the returning series itself: no other call swept it
    const a = d.sum('a', { attributes: {}, startTimeUnixNano: T0 + 2n * S, timeUnixNano: T0 + 3n * S, value: 2 });
    expect(a.value).toBe(2);
    expect(a.startTimeUnixNano).toBe(T0 + 2n * S);
    const h = d.histogram('h', { attributes: {}, startTimeUnixNano: T0 + 2n * S, timeUnixNano: T0 + 3n * S, count: 1, sum: 1, explicitBounds: [1], bucketCounts: [0, 1] });
    expect(h.count).toBe(1);
    expect(h.bucketCounts).toEqual([0, 1]);
    // Within max stale the total continues.
    now = 1500;
    expect(d.sum('a', { attributes: {}, startTimeUnixNano: T0 + 3n * S, timeUnixNano: T0 + 4n * S, value: 4 }).value).toBe(6);
  });

  it('starts a new total when histogram bounds change', () => {
    const d = new DeltaToCumulative({ maxStaleMs: 0 });
    d.histogram('h', { attributes: {}, startTimeUnixNano: T0, timeUnixNano: T0 + S, count: 2, sum: 1, explicitBounds: [1], bucketCounts: [1, 1] });
    const b = d.histogram('h', { attributes: {}, startTimeUnixNano: T0 + S, timeUnixNano: T0 + 2n * S, count: 1, sum: 1, explicitBounds: [1, 2], bucketCounts: [0, 1, 0] });
    expect(b.count).toBe(1);
    expect(b.bucketCounts).toEqual([0, 1, 0]);
    expect(b.startTimeUnixNano).toBe(T0 + S);
  });
});
