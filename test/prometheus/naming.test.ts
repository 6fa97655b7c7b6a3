import { describe, expect, it } from 'vitest';
import { prometheusLabelName, prometheusMetricName, unitSuffix } from '../../src/exporters/prometheus-naming/index.js';

describe('prometheusMetricName', () => {
  it.each([
    ['sonde.tcp.connections', '{connection}', 'counter', 'sonde_tcp_connections_total'],
    ['sonde.tcp.connect.duration', 's', 'histogram', 'sonde_tcp_connect_duration_seconds'],
    ['sonde.tcp.io', 'By', 'counter', 'sonde_tcp_io_bytes_total'],
    ['sonde.tcp.retransmits', '{segment}', 'counter', 'sonde_tcp_retransmits_total'],
    ['http.server.request.duration', 's', 'histogram', 'http_server_request_duration_seconds'],
    ['system.memory.usage', 'By', 'gauge', 'system_memory_usage_bytes'],
    ['cpu.utilization', '1', 'gauge', 'cpu_utilization_ratio'],
    ['requests', '1', 'counter', 'requests_total'],
    ['network.io', 'By/s', 'gauge', 'network_io_bytes_per_second'],
    ['requests.rate', '{request}/s', 'gauge', 'requests_rate_per_second'],
    ['queue.latency', 'ms', 'gauge', 'queue_latency_milliseconds'],
    // No duplicate suffixes.
    ['duration_seconds', 's', 'histogram', 'duration_seconds'],
    ['http.requests.total', '', 'counter', 'http_requests_total'],
    ['bytes_total', 'By', 'counter', 'bytes_total'],
    ['io', 'By', 'counter', 'io_bytes_total'],
    // Invalid characters and a leading digit.
    ['my-metric/with spaces', '', 'gauge', 'my_metric_with_spaces'],
    ['2xx.count', '', 'gauge', '_2xx_count'],
    ['temp', 'Cel', 'gauge', 'temp_celsius'],
    ['odd', 'furlong', 'gauge', 'odd_furlong'],
  ] as const)('%s [%s] %s -> %s', (name, unit, kind, expected) => {
    expect(prometheusMetricName(name, unit, kind)).toBe(expected);
  });

  it('prepends the namespace', () => {
    expect(prometheusMetricName('sonde.tcp.connections', '{connection}', 'counter', 'edge')).toBe('edge_sonde_tcp_connections_total');
  });

  it('has no suffix for annotations and dimensionless counters', () => {
    expect(unitSuffix('{connection}', 'counter')).toBe('');
    expect(unitSuffix('1', 'counter')).toBe('');
    expect(unitSuffix('', 'gauge')).toBe('');
    expect(unitSuffix(undefined, 'gauge')).toBe('');
  });
});

describe('prometheusLabelName', () => {
  it.each([
    ['server.port', 'server_port'],
    ['network.tcp.direction', 'network_tcp_direction'],
    ['http.response.status_code', 'http_response_status_code'],
    ['9lives', 'key_9lives'],
    ['_private', 'key_private'],
    ['__name__', 'key__name__'],
    ['k8s.pod.name', 'k8s_pod_name'],
    ['a-b c', 'a_b_c'],
  ])('%s -> %s', (key, expected) => {
    expect(prometheusLabelName(key)).toBe(expected);
  });
});
