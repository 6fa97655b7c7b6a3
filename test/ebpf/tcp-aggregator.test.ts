// The TCP aggregator on hand-built records: attributes as docs/conventions.md says, cumulative
// values, one resource per process, the series cap with its overflow series.
import { describe, expect, it } from 'vitest';
import { TcpAggregator } from '../../src/receivers/ebpf/tcp/tcp-aggregator.js';
import { createTcpEvent, decodeTcpEvent, TCP_EVENT_SIZE } from '../../src/receivers/ebpf/tcp/tcp-event.js';
import { buildRecord, type RecordFields } from './tcp-records.js';
import { histogramsOf, resourceOf, sumOf } from './harness.js';

function feed(agg: TcpAggregator, fields: RecordFields, times = 1): void {
  const ev = createTcpEvent();
  for (let i = 0; i < times; i++) {
    const view = buildRecord(fields);
    expect(decodeTcpEvent(view, 0, TCP_EVENT_SIZE, ev)).toBeNull();
    agg.record(ev);
  }
}

function aggregator(maxSeries = 100, overflows: string[] = []): TcpAggregator {
  let t = 1_000n;
  return new TcpAggregator({
    maxSeries,
    hostName: 'host-a',
    nowUnixNs: () => (t += 1_000n),
    processName: () => undefined, // use the comm from the record
    processAlive: () => true,
    onOverflow: (m) => overflows.push(m),
  });
}

describe('TcpAggregator', () => {
  it('counts connects by outcome with exactly the conventions attributes, per process resource', () => {
    const agg = aggregator();
    feed(agg, { type: 1, pid: 10, comm: 'curl', remotePort: 443, remoteAddr: [10, 0, 0, 7], outcome: 0, durationNs: 2_000_000 }, 3);
    feed(agg, { type: 1, pid: 10, comm: 'curl', remotePort: 443, remoteAddr: [10, 0, 0, 7], outcome: 1, durationNs: 100_000 }, 2);
    feed(agg, { type: 2, pid: 20, comm: 'nginx', direction: 2, localPort: 80, localAddr: [10, 0, 0, 1], remotePort: 50123 }, 4);
    const rms = agg.collect();
    expect(rms).toHaveLength(2);
    const curl = resourceOf(rms, 10)!;
    expect(curl.resource.attributes).toEqual({ 'service.name': 'curl', 'service.instance.id': 'host-a:10', 'process.pid': 10, 'process.executable.name': 'curl', 'host.name': 'host-a' });
    const conns = curl.scopeMetrics[0]!.metrics.find((m) => m.name === 'sonde.tcp.connections')!;
    expect(conns.type === 'sum' && conns.dataPoints.map((p) => p.attributes)).toContainEqual({
      'network.tcp.direction': 'outbound',
      'sonde.tcp.outcome': 'success',
      'network.type': 'ipv4',
      'server.address': '10.0.0.7',
      'server.port': 443,
      'process.executable.name': 'curl',
    });
    expect(sumOf(curl, 'sonde.tcp.connections', { 'sonde.tcp.outcome': 'success' })).toBe(3);
    expect(sumOf(curl, 'sonde.tcp.connections', { 'sonde.tcp.outcome': 'refused' })).toBe(2);
    const hs = histogramsOf(curl, 'sonde.tcp.connect.duration', { 'sonde.tcp.outcome': 'success' });
    expect(hs[0]).toMatchObject({ count: 3, min: 0.002, max: 0.002 });
    expect(hs[0]!.sum).toBeCloseTo(0.006, 12);
    // inbound: server side is the local address and port
    const nginx = resourceOf(rms, 20)!;
    expect(sumOf(nginx, 'sonde.tcp.connections', { 'network.tcp.direction': 'inbound', 'server.port': 80, 'server.address': '10.0.0.1' })).toBe(4);
    expect(histogramsOf(nginx, 'sonde.tcp.connect.duration')).toHaveLength(0); // outbound only
  });

  it('is cumulative across collections and keeps start times', () => {
    const agg = aggregator();
    feed(agg, { type: 1, pid: 10, outcome: 0 }, 2);
    const first = agg.collect();
    feed(agg, { type: 1, pid: 10, outcome: 0 }, 3);
    const second = agg.collect();
    expect(sumOf(resourceOf(first, 10), 'sonde.tcp.connections')).toBe(2);
    expect(sumOf(resourceOf(second, 10), 'sonde.tcp.connections')).toBe(5);
    const p1 = first[0]!.scopeMetrics[0]!.metrics[0]!;
    const p2 = second[0]!.scopeMetrics[0]!.metrics[0]!;
    expect(p1.type === 'sum' && p2.type === 'sum' && p1.dataPoints[0]!.startTimeUnixNano === p2.dataPoints[0]!.startTimeUnixNano).toBe(true);
    expect(p1.type === 'sum' && p1.aggregationTemporality).toBe(2);
  });

  it('records bytes and lifetimes at close, retransmits by server', () => {
    const agg = aggregator();
    feed(agg, { type: 3, pid: 10, bytesSent: 1000, bytesReceived: 3000, durationNs: 1_500_000_000 }, 2);
    feed(agg, { type: 4, pid: 10, remotePort: 5432, remoteAddr: [10, 0, 0, 9] }, 3);
    const rm = resourceOf(agg.collect(), 10);
    expect(sumOf(rm, 'sonde.tcp.io', { 'network.io.direction': 'transmit' })).toBe(2000);
    expect(sumOf(rm, 'sonde.tcp.io', { 'network.io.direction': 'receive' })).toBe(6000);
    expect(histogramsOf(rm, 'sonde.tcp.connection.duration')[0]).toMatchObject({ count: 2, min: 1.5, max: 1.5 });
    expect(sumOf(rm, 'sonde.tcp.retransmits', { 'server.address': '10.0.0.9', 'server.port': 5432 })).toBe(3);
  });

  it('formats IPv6 servers and reports network.type ipv6', () => {
    const agg = aggregator();
    const v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    feed(agg, { type: 1, pid: 10, family: 10, remoteAddr: v6, remotePort: 8443 });
    const rm = resourceOf(agg.collect(), 10);
    expect(sumOf(rm, 'sonde.tcp.connections', { 'network.type': 'ipv6', 'server.address': '2001:db8::1', 'server.port': 8443 })).toBe(1);
  });

  it('caps series per metric: beyond max_series points go to one overflow series, counted', () => {
    const overflows: string[] = [];
    const agg = aggregator(3, overflows);
    for (let port = 1; port <= 5; port++) feed(agg, { type: 1, pid: 10, remotePort: port });
    feed(agg, { type: 1, pid: 10, remotePort: 1 }); // an existing series still counts normally
    const rm = resourceOf(agg.collect(), 10)!;
    const conns = rm.scopeMetrics[0]!.metrics.find((m) => m.name === 'sonde.tcp.connections')!;
    expect(conns.type === 'sum' && conns.dataPoints).toHaveLength(4);
    expect(sumOf(rm, 'sonde.tcp.connections', { 'otel.metric.overflow': true })).toBe(2);
    expect(sumOf(rm, 'sonde.tcp.connections', { 'server.port': 1 })).toBe(2);
    expect(sumOf(rm, 'sonde.tcp.connections')).toBe(6); // nothing lost
    expect(agg.series('sonde.tcp.connections')).toBe(3);
    expect(overflows.filter((m) => m === 'sonde.tcp.connections')).toHaveLength(2);
  });

  it('forgets exited processes after reporting them once more', () => {
    let alive = true;
    const agg = new TcpAggregator({ maxSeries: 10, processName: () => undefined, processAlive: () => alive });
    feed(agg, { type: 1, pid: 10 });
    expect(agg.collect()).toHaveLength(1);
    alive = false;
    expect(agg.collect()).toHaveLength(1); // last report
    expect(agg.collect()).toHaveLength(0);
    expect(agg.series('sonde.tcp.connections')).toBe(0);
  });
});
