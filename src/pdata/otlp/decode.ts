// OTLP export requests (protobuf or JSON) -> Sonde pdata. Malformed input throws a SondeError
// with code SONDE_OTLP_MALFORMED, never anything else. Metric types Sonde's model lacks
// (exponential histograms, summaries) are not decoded: their data points are counted in
// `rejected`, which a receiver reports back to the sender as OTLP partial success.
import { SondeError } from '../../errors/index.js';
import type {
  AggregationTemporality,
  AttributeValue,
  Attributes,
  HistogramDataPoint,
  InstrumentationScope,
  Metric,
  NumberDataPoint,
  Resource,
  ResourceMetrics,
  ResourceSpans,
  ScopeMetrics,
  ScopeSpans,
  Signal,
  Span,
  SpanKind,
  StatusCode,
  TelemetryBatch,
} from '../types.js';
import { OtlpTypes } from './otlp-proto.js';
import { jsonReader, malformed, protoReader, type ValueReader } from './otlp-values.js';

export type OtlpFormat = 'protobuf' | 'json';

export interface DecodeResult {
  batch: TelemetryBatch;
  /** Spans or data points decoded into the batch. */
  items: number;
  /** Data points that were well-formed but cannot be represented (exponential histograms, summaries). */
  rejected: number;
  /** Why items were rejected, for the partial-success answer. */
  rejectedMessage?: string;
}

/** Attribute nesting deeper than this is refused: it guards the recursion against hostile input. */
const MAX_DEPTH = 32;

type Obj = Record<string, unknown>;

/**
 * Decodes one ExportTraceServiceRequest or ExportMetricsServiceRequest.
 * `body` must already be decompressed.
 */
export function decodeOtlpRequest(signal: Signal, body: Uint8Array, format: OtlpFormat): DecodeResult {
  let message: Obj;
  if (format === 'protobuf') {
    const type = signal === 'traces' ? OtlpTypes.ExportTraceServiceRequest : OtlpTypes.ExportMetricsServiceRequest;
    try {
      message = type.decode(body) as unknown as Obj;
    } catch (err) {
      throw malformed(`invalid protobuf ${type.name}: ${(err as Error).message}`, err);
    }
  } else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
    } catch (err) {
      throw malformed(`invalid JSON: ${(err as Error).message}`, err);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw malformed('an OTLP/JSON request must be a JSON object');
    }
    message = normalizeKeys(parsed, 0) as Obj;
  }
  const r = format === 'protobuf' ? protoReader : jsonReader;
  try {
    return signal === 'traces' ? decodeTraces(message, r) : decodeMetrics(message, r);
  } catch (err) {
    if (err instanceof SondeError) throw err;
    // A shape the walk did not expect (wrong JSON type deep down): still the sender's fault.
    throw malformed(`unexpected OTLP structure: ${(err as Error).message}`, err);
  }
}

/** OTLP/JSON uses lowerCamelCase; accept the proto field names (snake_case) too. */
function normalizeKeys(v: unknown, depth: number): unknown {
  if (depth > MAX_DEPTH * 4) throw malformed('JSON nesting too deep');
  if (Array.isArray(v)) return v.map((x) => normalizeKeys(x, depth + 1));
  if (typeof v !== 'object' || v === null) return v;
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) {
    const key = k.includes('_') ? k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) : k;
    out[key] = normalizeKeys(x, depth + 1);
  }
  return out;
}

function list(v: unknown, path: string): Obj[] {
  if (v == null) return [];
  if (!Array.isArray(v)) throw malformed(`${path}: expected a list`);
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== 'object' || v[i] === null || Array.isArray(v[i])) throw malformed(`${path}[${i}]: expected an object`);
  }
  return v as Obj[];
}

function obj(v: unknown, path: string): Obj | undefined {
  if (v == null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw malformed(`${path}: expected an object`);
  return v as Obj;
}

function decodeAnyValue(v: Obj | undefined, r: ValueReader, path: string, depth: number): AttributeValue {
  if (v === undefined) return null;
  if (depth > MAX_DEPTH) throw malformed(`${path}: attribute values nested deeper than ${MAX_DEPTH}`);
  if (v.stringValue != null) return r.string(v.stringValue, path);
  if (v.boolValue != null) return r.bool(v.boolValue, path);
  if (v.intValue != null) return Number(r.int64(v.intValue, path));
  if (v.doubleValue != null) return r.double(v.doubleValue, path);
  if (v.bytesValue != null) return r.bytes(v.bytesValue, path);
  if (v.arrayValue != null) {
    const values = list(obj(v.arrayValue, path)?.values, `${path}.arrayValue.values`);
    return values.map((x, i) => decodeAnyValue(x, r, `${path}.arrayValue.values[${i}]`, depth + 1));
  }
  if (v.kvlistValue != null) {
    const out: { [key: string]: AttributeValue } = {};
    decodeKeyValues(obj(v.kvlistValue, path)?.values, r, `${path}.kvlistValue.values`, depth + 1, out);
    return out;
  }
  return null;
}

function decodeKeyValues(v: unknown, r: ValueReader, path: string, depth = 0, out: Attributes = {}): Attributes {
  const kvs = list(v, path);
  for (let i = 0; i < kvs.length; i++) {
    const kv = kvs[i]!;
    const key = r.string(kv.key, `${path}[${i}].key`);
    out[key] = decodeAnyValue(obj(kv.value, `${path}[${i}].value`), r, `${path}[${i}].value`, depth);
  }
  return out;
}

function decodeResource(v: unknown, r: ValueReader, path: string): Resource {
  const o = obj(v, path);
  const resource: Resource = { attributes: decodeKeyValues(o?.attributes, r, `${path}.attributes`) };
  const dropped = r.int(o?.droppedAttributesCount, `${path}.droppedAttributesCount`);
  if (dropped) resource.droppedAttributesCount = dropped;
  return resource;
}

function decodeScope(v: unknown, r: ValueReader, path: string): InstrumentationScope {
  const o = obj(v, path);
  const scope: InstrumentationScope = { name: r.string(o?.name, `${path}.name`) };
  const version = r.string(o?.version, `${path}.version`);
  if (version) scope.version = version;
  if (o?.attributes != null) {
    const attributes = decodeKeyValues(o.attributes, r, `${path}.attributes`);
    if (Object.keys(attributes).length > 0) scope.attributes = attributes;
  }
  return scope;
}

function schemaUrl(target: { schemaUrl?: string }, v: unknown, r: ValueReader, path: string): void {
  const url = r.string(v, path);
  if (url) target.schemaUrl = url;
}

const SPAN_KIND_NAMES = ['SPAN_KIND_UNSPECIFIED', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT', 'SPAN_KIND_PRODUCER', 'SPAN_KIND_CONSUMER'] as const;
const STATUS_NAMES = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'] as const;
const TEMPORALITY_NAMES = ['AGGREGATION_TEMPORALITY_UNSPECIFIED', 'AGGREGATION_TEMPORALITY_DELTA', 'AGGREGATION_TEMPORALITY_CUMULATIVE'] as const;

function decodeSpan(s: Obj, r: ValueReader, path: string): Span {
  const traceId = r.id(s.traceId, 16, `${path}.traceId`);
  const spanId = r.id(s.spanId, 8, `${path}.spanId`);
  if (traceId === undefined || /^0+$/.test(traceId)) throw malformed(`${path}.traceId: missing or all zero`);
  if (spanId === undefined || /^0+$/.test(spanId)) throw malformed(`${path}.spanId: missing or all zero`);
  const kind = r.enumValue(s.kind, SPAN_KIND_NAMES, `${path}.kind`);
  const status = obj(s.status, `${path}.status`);
  const statusCode = r.enumValue(status?.code, STATUS_NAMES, `${path}.status.code`);
  const statusMessage = r.string(status?.message, `${path}.status.message`);
  const span: Span = {
    traceId,
    spanId,
    name: r.string(s.name, `${path}.name`),
    kind: (kind >= 0 && kind <= 5 ? kind : 0) as SpanKind,
    startTimeUnixNano: r.int64(s.startTimeUnixNano, `${path}.startTimeUnixNano`),
    endTimeUnixNano: r.int64(s.endTimeUnixNano, `${path}.endTimeUnixNano`),
    attributes: decodeKeyValues(s.attributes, r, `${path}.attributes`),
    events: list(s.events, `${path}.events`).map((e, i) => {
      const p = `${path}.events[${i}]`;
      const event: Span['events'][number] = {
        timeUnixNano: r.int64(e.timeUnixNano, `${p}.timeUnixNano`),
        name: r.string(e.name, `${p}.name`),
        attributes: decodeKeyValues(e.attributes, r, `${p}.attributes`),
      };
      const dropped = r.int(e.droppedAttributesCount, `${p}.droppedAttributesCount`);
      if (dropped) event.droppedAttributesCount = dropped;
      return event;
    }),
    links: list(s.links, `${path}.links`).map((l, i) => {
      const p = `${path}.links[${i}]`;
      const linkTrace = r.id(l.traceId, 16, `${p}.traceId`);
      const linkSpan = r.id(l.spanId, 8, `${p}.spanId`);
      if (linkTrace === undefined || linkSpan === undefined) throw malformed(`${p}: a link needs traceId and spanId`);
      const link: Span['links'][number] = { traceId: linkTrace, spanId: linkSpan, attributes: decodeKeyValues(l.attributes, r, `${p}.attributes`) };
      const traceState = r.string(l.traceState, `${p}.traceState`);
      if (traceState) link.traceState = traceState;
      const dropped = r.int(l.droppedAttributesCount, `${p}.droppedAttributesCount`);
      if (dropped) link.droppedAttributesCount = dropped;
      const flags = r.int(l.flags, `${p}.flags`);
      if (flags) link.flags = flags;
      return link;
    }),
    status: { code: (statusCode >= 0 && statusCode <= 2 ? statusCode : 0) as StatusCode },
  };
  if (statusMessage) span.status.message = statusMessage;
  const parent = r.id(s.parentSpanId, 8, `${path}.parentSpanId`);
  if (parent !== undefined && !/^0+$/.test(parent)) span.parentSpanId = parent;
  const traceState = r.string(s.traceState, `${path}.traceState`);
  if (traceState) span.traceState = traceState;
  const flags = r.int(s.flags, `${path}.flags`);
  if (flags) span.flags = flags;
  const da = r.int(s.droppedAttributesCount, `${path}.droppedAttributesCount`);
  if (da) span.droppedAttributesCount = da;
  const de = r.int(s.droppedEventsCount, `${path}.droppedEventsCount`);
  if (de) span.droppedEventsCount = de;
  const dl = r.int(s.droppedLinksCount, `${path}.droppedLinksCount`);
  if (dl) span.droppedLinksCount = dl;
  return span;
}

function decodeTraces(message: Obj, r: ValueReader): DecodeResult {
  let items = 0;
  const resourceSpans: ResourceSpans[] = list(message.resourceSpans, 'resourceSpans').map((rs, i) => {
    const rp = `resourceSpans[${i}]`;
    const out: ResourceSpans = {
      resource: decodeResource(rs.resource, r, `${rp}.resource`),
      scopeSpans: list(rs.scopeSpans, `${rp}.scopeSpans`).map((ss, j) => {
        const sp = `${rp}.scopeSpans[${j}]`;
        const spans = list(ss.spans, `${sp}.spans`).map((s, k) => decodeSpan(s, r, `${sp}.spans[${k}]`));
        items += spans.length;
        const scopeSpans: ScopeSpans = { scope: decodeScope(ss.scope, r, `${sp}.scope`), spans };
        schemaUrl(scopeSpans, ss.schemaUrl, r, `${sp}.schemaUrl`);
        return scopeSpans;
      }),
    };
    schemaUrl(out, rs.schemaUrl, r, `${rp}.schemaUrl`);
    return out;
  });
  return { batch: { signal: 'traces', resourceSpans }, items, rejected: 0 };
}

function decodeNumberPoint(p: Obj, r: ValueReader, path: string): NumberDataPoint {
  const point: NumberDataPoint = {
    attributes: decodeKeyValues(p.attributes, r, `${path}.attributes`),
    startTimeUnixNano: r.int64(p.startTimeUnixNano, `${path}.startTimeUnixNano`),
    timeUnixNano: r.int64(p.timeUnixNano, `${path}.timeUnixNano`),
    value: 0,
  };
  if (p.asInt != null) {
    point.value = Number(r.int64(p.asInt, `${path}.asInt`));
    point.isInt = true;
  } else {
    point.value = r.double(p.asDouble, `${path}.asDouble`);
  }
  const flags = r.int(p.flags, `${path}.flags`);
  if (flags) point.flags = flags;
  return point;
}

function decodeHistogramPoint(p: Obj, r: ValueReader, path: string): HistogramDataPoint {
  const bounds = p.explicitBounds == null ? [] : p.explicitBounds;
  const counts = p.bucketCounts == null ? [] : p.bucketCounts;
  if (!Array.isArray(bounds) || !Array.isArray(counts)) throw malformed(`${path}: explicitBounds and bucketCounts must be lists`);
  const point: HistogramDataPoint = {
    attributes: decodeKeyValues(p.attributes, r, `${path}.attributes`),
    startTimeUnixNano: r.int64(p.startTimeUnixNano, `${path}.startTimeUnixNano`),
    timeUnixNano: r.int64(p.timeUnixNano, `${path}.timeUnixNano`),
    count: Number(r.int64(p.count, `${path}.count`)),
    explicitBounds: bounds.map((b, i) => r.double(b, `${path}.explicitBounds[${i}]`)),
    bucketCounts: counts.map((c, i) => Number(r.int64(c, `${path}.bucketCounts[${i}]`))),
  };
  if (point.bucketCounts.length !== 0 && point.bucketCounts.length !== point.explicitBounds.length + 1) {
    throw malformed(`${path}: bucketCounts must have one more entry than explicitBounds`);
  }
  if (p.sum != null) point.sum = r.double(p.sum, `${path}.sum`);
  if (p.min != null) point.min = r.double(p.min, `${path}.min`);
  if (p.max != null) point.max = r.double(p.max, `${path}.max`);
  const flags = r.int(p.flags, `${path}.flags`);
  if (flags) point.flags = flags;
  return point;
}

function temporality(v: unknown, r: ValueReader, path: string): AggregationTemporality {
  const t = r.enumValue(v, TEMPORALITY_NAMES, path);
  return (t >= 0 && t <= 2 ? t : 0) as AggregationTemporality;
}

interface MetricTally {
  items: number;
  rejected: number;
  rejectedKinds: Set<string>;
}

/** A decoded metric, or undefined when its type is one Sonde refuses (its points are tallied). */
function decodeMetric(m: Obj, r: ValueReader, path: string, tally: MetricTally): Metric | undefined {
  const base = { name: r.string(m.name, `${path}.name`) } as { name: string; description?: string; unit?: string };
  const description = r.string(m.description, `${path}.description`);
  if (description) base.description = description;
  const unit = r.string(m.unit, `${path}.unit`);
  if (unit) base.unit = unit;
  if (m.gauge != null) {
    const g = obj(m.gauge, `${path}.gauge`)!;
    const dataPoints = list(g.dataPoints, `${path}.gauge.dataPoints`).map((p, i) => decodeNumberPoint(p, r, `${path}.gauge.dataPoints[${i}]`));
    tally.items += dataPoints.length;
    return { ...base, type: 'gauge', dataPoints };
  }
  if (m.sum != null) {
    const s = obj(m.sum, `${path}.sum`)!;
    const dataPoints = list(s.dataPoints, `${path}.sum.dataPoints`).map((p, i) => decodeNumberPoint(p, r, `${path}.sum.dataPoints[${i}]`));
    tally.items += dataPoints.length;
    return {
      ...base,
      type: 'sum',
      dataPoints,
      aggregationTemporality: temporality(s.aggregationTemporality, r, `${path}.sum.aggregationTemporality`),
      isMonotonic: r.bool(s.isMonotonic, `${path}.sum.isMonotonic`),
    };
  }
  if (m.histogram != null) {
    const h = obj(m.histogram, `${path}.histogram`)!;
    const dataPoints = list(h.dataPoints, `${path}.histogram.dataPoints`).map((p, i) => decodeHistogramPoint(p, r, `${path}.histogram.dataPoints[${i}]`));
    tally.items += dataPoints.length;
    return {
      ...base,
      type: 'histogram',
      dataPoints,
      aggregationTemporality: temporality(h.aggregationTemporality, r, `${path}.histogram.aggregationTemporality`),
    };
  }
  for (const kind of ['exponentialHistogram', 'summary'] as const) {
    if (m[kind] != null) {
      tally.rejected += list(obj(m[kind], `${path}.${kind}`)!.dataPoints, `${path}.${kind}.dataPoints`).length;
      tally.rejectedKinds.add(kind);
      return undefined;
    }
  }
  // A metric with no data at all is legal in OTLP (nothing to keep).
  return undefined;
}

function decodeMetrics(message: Obj, r: ValueReader): DecodeResult {
  const tally: MetricTally = { items: 0, rejected: 0, rejectedKinds: new Set() };
  const resourceMetrics: ResourceMetrics[] = list(message.resourceMetrics, 'resourceMetrics').map((rm, i) => {
    const rp = `resourceMetrics[${i}]`;
    const out: ResourceMetrics = {
      resource: decodeResource(rm.resource, r, `${rp}.resource`),
      scopeMetrics: list(rm.scopeMetrics, `${rp}.scopeMetrics`).map((sm, j) => {
        const sp = `${rp}.scopeMetrics[${j}]`;
        const metrics: Metric[] = [];
        const raw = list(sm.metrics, `${sp}.metrics`);
        for (let k = 0; k < raw.length; k++) {
          const metric = decodeMetric(raw[k]!, r, `${sp}.metrics[${k}]`, tally);
          if (metric) metrics.push(metric);
        }
        const scopeMetrics: ScopeMetrics = { scope: decodeScope(sm.scope, r, `${sp}.scope`), metrics };
        schemaUrl(scopeMetrics, sm.schemaUrl, r, `${sp}.schemaUrl`);
        return scopeMetrics;
      }),
    };
    schemaUrl(out, rm.schemaUrl, r, `${rp}.schemaUrl`);
    return out;
  });
  const result: DecodeResult = { batch: { signal: 'metrics', resourceMetrics }, items: tally.items, rejected: tally.rejected };
  if (tally.rejected > 0) {
    result.rejectedMessage = `Sonde does not support ${[...tally.rejectedKinds].join(' and ')} metrics; ${tally.rejected} data points were dropped`;
  }
  return result;
}

/** Partial success carried in an ExportTrace/MetricsServiceResponse. */
export interface PartialSuccess {
  rejected: number;
  message: string;
}

/** Reads an export response body; undefined when it reports full success. Garbage counts as success (the request was accepted). */
export function decodeExportResponse(signal: Signal, body: Uint8Array, format: OtlpFormat): PartialSuccess | undefined {
  if (body.length === 0) return undefined;
  try {
    let ps: Obj | undefined;
    if (format === 'protobuf') {
      const type = signal === 'traces' ? OtlpTypes.ExportTraceServiceResponse : OtlpTypes.ExportMetricsServiceResponse;
      ps = (type.decode(body) as unknown as Obj).partialSuccess as Obj | undefined;
    } else {
      const parsed = normalizeKeys(JSON.parse(Buffer.from(body).toString('utf8')), 0) as Obj;
      ps = parsed?.partialSuccess as Obj | undefined;
    }
    if (!ps) return undefined;
    const r = format === 'protobuf' ? protoReader : jsonReader;
    const rejected = Number(r.int64(signal === 'traces' ? ps.rejectedSpans : ps.rejectedDataPoints, 'partialSuccess'));
    const message = r.string(ps.errorMessage, 'partialSuccess.errorMessage');
    if (rejected === 0 && message === '') return undefined;
    return { rejected, message };
  } catch {
    return undefined;
  }
}

/** Encodes an export response, with partial success when items were rejected. */
export function encodeExportResponse(signal: Signal, format: OtlpFormat, partial?: PartialSuccess): Uint8Array {
  const partialSuccess = partial
    ? signal === 'traces'
      ? { rejectedSpans: partial.rejected, errorMessage: partial.message }
      : { rejectedDataPoints: partial.rejected, errorMessage: partial.message }
    : undefined;
  if (format === 'json') {
    const body = partialSuccess ? { partialSuccess: { ...partialSuccess } } : {};
    return Buffer.from(JSON.stringify(body));
  }
  const type = signal === 'traces' ? OtlpTypes.ExportTraceServiceResponse : OtlpTypes.ExportMetricsServiceResponse;
  return type.encode(type.fromObject(partialSuccess ? { partialSuccess } : {})).finish();
}

/** A google.rpc.Status body, as OTLP/HTTP answers errors and gRPC carries details. */
export function encodeRpcStatus(code: number, message: string, format: OtlpFormat): Uint8Array {
  if (format === 'json') return Buffer.from(JSON.stringify({ code, message }));
  return OtlpTypes.RpcStatus.encode(OtlpTypes.RpcStatus.fromObject({ code, message })).finish();
}
