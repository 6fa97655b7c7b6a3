import { existsSync, readFileSync } from 'node:fs';
import type { Consumer, CreateSettings } from '../../src/component/types.js';
import type { Attributes, MetricsBatch, TelemetryBatch, TracesBatch } from '../../src/pdata/types.js';
import { AggregationTemporality, SpanKind } from '../../src/pdata/types.js';
import { createSilentLogger } from '../../src/telemetry/logger.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';

export class CollectingConsumer implements Consumer {
  readonly mutatesData = false;
  readonly batches: TelemetryBatch[] = [];
  async consume(batch: TelemetryBatch): Promise<void> {
    this.batches.push(batch);
  }
  last(): TelemetryBatch {
    const b = this.batches.at(-1);
    if (!b) throw new Error('no batch received');
    return b;
  }
}

export function settings(key = 'k8sattributes', telemetry = new SelfTelemetry({ processMetrics: false })): CreateSettings & { pipeline: string } {
  const [type, name = ''] = key.split('/');
  return {
    id: { type: type!, name, key },
    logger: createSilentLogger(),
    telemetry,
    configDir: process.cwd(),
    backpressure: { shouldRefuse: () => false },
    pipeline: 'metrics',
  };
}

/** A metrics batch shaped like the ebpf receiver's: one resource, one sonde.tcp.connections sum. */
export function tcpBatch(
  resource: Attributes,
  points: Attributes[] = [{ 'network.tcp.direction': 'outbound', 'server.address': '10.0.0.1', 'server.port': 80 }],
  scope = 'sonde.ebpf.tcp',
): MetricsBatch {
  const now = BigInt(Date.now()) * 1_000_000n;
  return {
    signal: 'metrics',
    resourceMetrics: [
      {
        resource: { attributes: { ...resource } },
        scopeMetrics: [
          {
            scope: { name: scope },
            metrics: [
              {
                name: 'sonde.tcp.connections',
                unit: '{connection}',
                type: 'sum',
                aggregationTemporality: AggregationTemporality.CUMULATIVE,
                isMonotonic: true,
                dataPoints: points.map((attributes) => ({ attributes: { ...attributes }, startTimeUnixNano: now - 10_000_000_000n, timeUnixNano: now, value: 1, isInt: true })),
              },
            ],
          },
        ],
      },
    ],
  };
}

export function spanBatch(resource: Attributes, kind: SpanKind, attributes: Attributes): TracesBatch {
  const now = BigInt(Date.now()) * 1_000_000n;
  return {
    signal: 'traces',
    resourceSpans: [
      {
        resource: { attributes: { ...resource } },
        scopeSpans: [
          {
            scope: { name: 'sonde.ebpf.http' },
            spans: [
              {
                traceId: '0af7651916cd43dd8448eb211c80319c',
                spanId: 'b7ad6b7169203331',
                name: 'GET',
                kind,
                startTimeUnixNano: now - 1_000_000n,
                endTimeUnixNano: now,
                attributes: { ...attributes },
                events: [],
                links: [],
                status: { code: 0 },
              },
            ],
          },
        ],
      },
    ],
  };
}

export function resourceAttrs(b: TelemetryBatch): Attributes {
  return b.signal === 'metrics' ? b.resourceMetrics[0]!.resource.attributes : b.resourceSpans[0]!.resource.attributes;
}

export function pointAttrs(b: TelemetryBatch): Attributes {
  return b.signal === 'metrics' ? b.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!.dataPoints[0]!.attributes : b.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes;
}

/** An attribute as the file exporter writes it in OTLP/JSON: `{ key, value: { stringValue: ... } }`. */
export type OtlpAttr = { key: string; value: Record<string, unknown> };

/** OTLP/JSON attributes as a plain key -> value record (the one field of each AnyValue). */
export const flat = (attrs: OtlpAttr[] = []): Record<string, unknown> => Object.fromEntries(attrs.map((a) => [a.key, Object.values(a.value)[0]]));

/**
 * The resource attributes of the first line of the file exporter's OTLP/JSON output `out` that
 * carries the quoted name `marker`; undefined while the file or the line is not there yet.
 */
export function exportedResource(out: string, marker: string): Record<string, unknown> | undefined {
  if (!existsSync(out)) return undefined;
  const line = readFileSync(out, 'utf8').split('\n').find((l) => l.includes(`"${marker}"`));
  return line ? flat((JSON.parse(line) as { resourceMetrics: Array<{ resource: { attributes: OtlpAttr[] } }> }).resourceMetrics[0]!.resource.attributes) : undefined;
}
