// Metrics batches shaped like the eBPF receiver's sonde.tcp.* output (see
// /work/shared/docs/conventions.md), for tests that do not load BPF.
import { AggregationTemporality, type MetricsBatch } from '../../../src/pdata/types.js';

export const CONNECT_BOUNDS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1];

export interface TcpInterval {
  /** End of the collection interval, ns. */
  timeUnixNano: bigint;
  /** Start: the previous interval end for delta, the process start for cumulative. */
  startTimeUnixNano: bigint;
  serverPort: number;
  /** Successful connects in this interval (delta) or so far (cumulative). */
  connects: number;
  /** Connect durations (s) observed: per interval for delta, all so far for cumulative. */
  durations: number[];
  temporality: 'delta' | 'cumulative';
  serviceName?: string;
}

function bucketCounts(durations: number[]): number[] {
  const counts = new Array<number>(CONNECT_BOUNDS.length + 1).fill(0);
  for (const d of durations) {
    let i = CONNECT_BOUNDS.findIndex((b) => d <= b);
    if (i < 0) i = CONNECT_BOUNDS.length;
    counts[i]!++;
  }
  return counts;
}

export function tcpBatch(iv: TcpInterval): MetricsBatch {
  const temporality = iv.temporality === 'delta' ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE;
  const attrs = {
    'network.tcp.direction': 'outbound',
    'sonde.tcp.outcome': 'success',
    'network.type': 'ipv4',
    'server.address': '127.0.0.1',
    'server.port': iv.serverPort,
    'process.executable.name': 'node',
  };
  return {
    signal: 'metrics',
    resourceMetrics: [
      {
        resource: {
          attributes: {
            'service.name': iv.serviceName ?? 'sonde-prom-test',
            'service.instance.id': 'test-host:4242',
            'process.pid': 4242,
            'process.executable.name': 'node',
            'host.name': 'test-host',
          },
        },
        scopeMetrics: [
          {
            scope: { name: 'sonde.ebpf', version: '0.1.0' },
            metrics: [
              {
                name: 'sonde.tcp.connections',
                description: 'TCP connections by outcome.',
                unit: '{connection}',
                type: 'sum',
                isMonotonic: true,
                aggregationTemporality: temporality,
                dataPoints: [{ attributes: attrs, startTimeUnixNano: iv.startTimeUnixNano, timeUnixNano: iv.timeUnixNano, value: iv.connects, isInt: true }],
              },
              {
                name: 'sonde.tcp.connect.duration',
                description: 'Time to establish outbound TCP connections.',
                unit: 's',
                type: 'histogram',
                aggregationTemporality: temporality,
                dataPoints: [
                  {
                    attributes: attrs,
                    startTimeUnixNano: iv.startTimeUnixNano,
                    timeUnixNano: iv.timeUnixNano,
                    count: iv.durations.length,
                    sum: iv.durations.reduce((a, b) => a + b, 0),
                    explicitBounds: CONNECT_BOUNDS,
                    bucketCounts: bucketCounts(iv.durations),
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
