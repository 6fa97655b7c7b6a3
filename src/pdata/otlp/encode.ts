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
// so encode each and splice them: in protobuf, repeated fields concatenate; in JSON, the arrays
// inside each `{"resourceMetrics":[...]}` are joined as text, without parsing them again.
function encodeMetrics(resourceMetrics: readonly ResourceMetrics[], format: OtlpFormat): Uint8Array {
  const serializer = format === 'json' ? JsonMetricsSerializer : ProtobufMetricsSerializer;
  const parts: Uint8Array[] = [];
  for (const rm of resourceMetrics) {
    const bytes = serializer.serializeRequest(toSdkResourceMetrics(rm));
    if (bytes && bytes.length > 0) parts.push(bytes);
  }
  if (format === 'protobuf') return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  if (parts.length === 1) return parts[0]!;
  return joinJsonResourceMetrics(parts);
}

const JSON_HEAD = Buffer.from('{"resourceMetrics":[');
const JSON_TAIL = Buffer.from(']}');

function joinJsonResourceMetrics(parts: readonly Uint8Array[]): Uint8Array {
  const inner: Uint8Array[] = [];
  for (const part of parts) {
    const b = Buffer.from(part.buffer, part.byteOffset, part.byteLength);
    const framed = b.length >= JSON_HEAD.length + JSON_TAIL.length && b.subarray(0, JSON_HEAD.length).equals(JSON_HEAD) && b.subarray(b.length - JSON_TAIL.length).equals(JSON_TAIL);
    if (!framed) return joinJsonByParsing(parts); // another serializer layout: take the slow, sure way
    const body = b.subarray(JSON_HEAD.length, b.length - JSON_TAIL.length);
    if (body.length === 0) continue;
    if (inner.length > 0) inner.push(COMMA);
    inner.push(body);
  }
  return Buffer.concat([JSON_HEAD, ...inner, JSON_TAIL]);
}

const COMMA = Buffer.from(',');

function joinJsonByParsing(parts: readonly Uint8Array[]): Uint8Array {
  const merged: unknown[] = [];
  for (const part of parts) {
    const parsed = JSON.parse(Buffer.from(part).toString('utf8')) as { resourceMetrics?: unknown[] };
    if (parsed.resourceMetrics) merged.push(...parsed.resourceMetrics);
  }
  return Buffer.from(JSON.stringify({ resourceMetrics: merged }), 'utf8');
}
