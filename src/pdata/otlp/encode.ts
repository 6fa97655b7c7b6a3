// OTLP export requests from Sonde pdata, encoded by @opentelemetry/otlp-transformer.
import {
  JsonMetricsSerializer,
  JsonTraceSerializer,
  ProtobufMetricsSerializer,
  ProtobufTraceSerializer,
} from '@opentelemetry/otlp-transformer';
import type { ResourceMetrics, TelemetryBatch } from '../types.js';
import { toReadableSpans, toSdkResourceMetrics } from './to-sdk.js';

export type OtlpFormat = 'protobuf' | 'json';

const EMPTY = new Uint8Array(0);

/**
 * One ExportTraceServiceRequest or ExportMetricsServiceRequest for the whole batch. JSON is the
 * standard OTLP/JSON encoding (hex ids, int64 as strings), readable by any OTLP tool.
 */
export function encodeOtlpRequest(batch: TelemetryBatch, format: OtlpFormat): Uint8Array {
  if (batch.signal === 'traces') {
    const spans = toReadableSpans(batch.resourceSpans);
    const serializer = format === 'json' ? JsonTraceSerializer : ProtobufTraceSerializer;
    return serializer.serializeRequest(spans) ?? EMPTY;
  }
  return encodeMetrics(batch.resourceMetrics, format);
}

// The SDK serializers take one ResourceMetrics per request; an export request may hold several,
// so encode each and splice them: in protobuf, repeated fields concatenate; in JSON, merge arrays.
function encodeMetrics(resourceMetrics: readonly ResourceMetrics[], format: OtlpFormat): Uint8Array {
  if (format === 'json') {
    const merged: unknown[] = [];
    for (const rm of resourceMetrics) {
      const bytes = JsonMetricsSerializer.serializeRequest(toSdkResourceMetrics(rm));
      if (!bytes) continue;
      const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as { resourceMetrics?: unknown[] };
      if (parsed.resourceMetrics) merged.push(...parsed.resourceMetrics);
    }
    return Buffer.from(JSON.stringify({ resourceMetrics: merged }), 'utf8');
  }
  const parts: Uint8Array[] = [];
  for (const rm of resourceMetrics) {
    const bytes = ProtobufMetricsSerializer.serializeRequest(toSdkResourceMetrics(rm));
    if (bytes) parts.push(bytes);
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}
