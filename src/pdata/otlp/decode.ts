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

/** Field presence: protobufjs keeps defaults on the prototype, so only own, non-null values count. */
const has = (o: Obj, key: string): boolean => Object.hasOwn(o, key) && o[key] != null;

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
    // Senders that use the proto field names (snake_case) do so from the top: only then is
    // a copy with lowerCamelCase keys worth making.
    message = Object.keys(parsed).some((k) => k.includes('_')) ? (normalizeKeys(parsed, 0) as Obj) : (parsed as Obj);
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

// Error locations are built only when something fails: readers get a constant field name, and
// each level catches a malformed-input error on its way up and prefixes its own segment.
// (Building a path string for every field of every span would cost more than the decoding.)
function within(segment: string, err: unknown): never {
  if (err instanceof SondeError && err.code === 'SONDE_OTLP_MALFORMED') {
    const sep = err.message.startsWith('[') ? '' : '.';
    throw malformed(`${segment}${sep}${err.message}`, err.cause);
  }
  throw err;
}

function list(v: unknown, field: string): Obj[] {
  if (v == null) return [];
  if (!Array.isArray(v)) throw malformed(`${field}: expected a list`);
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== 'object' || v[i] === null || Array.isArray(v[i])) throw malformed(`${field}[${i}]: expected an object`);
  }
  return v as Obj[];
}

/** Decodes each element of a list field; a failure names the field and the element index. */
function mapList<T>(v: unknown, field: string, decode: (o: Obj) => T): T[] {
  const items = list(v, field);
  const out = new Array<T>(items.length);
  for (let i = 0; i < items.length; i++) {
    try {
      out[i] = decode(items[i]!);
    } catch (err) {
      within(`${field}[${i}]`, err);
    }
  }
  return out;
}

/** Runs `decode` for a nested message field; a failure inside is prefixed with the field name. */
function inField<T>(field: string, decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    return within(field, err);
  }
}

function obj(v: unknown, field: string): Obj | undefined {
  if (v == null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw malformed(`${field}: expected an object`);
  return v as Obj;
}

function decodeAnyValue(v: Obj | undefined, r: ValueReader, depth: number): AttributeValue {
  if (v === undefined) return null;
  if (depth > MAX_DEPTH) throw malformed(`attribute values nested deeper than ${MAX_DEPTH}`);
  if (has(v, 'stringValue')) return r.string(v.stringValue, 'stringValue');
  if (has(v, 'boolValue')) return r.bool(v.boolValue, 'boolValue');
  if (has(v, 'intValue')) return Number(r.int64(v.intValue, 'intValue'));
  if (has(v, 'doubleValue')) return r.double(v.doubleValue, 'doubleValue');
  if (has(v, 'bytesValue')) return r.bytes(v.bytesValue, 'bytesValue');
  if (has(v, 'arrayValue')) {
    const values = obj(v.arrayValue, 'arrayValue')?.values;
    return inField('arrayValue', () => mapList(values, 'values', (x) => decodeAnyValue(x, r, depth + 1)));
  }
  if (has(v, 'kvlistValue')) {
    const out: { [key: string]: AttributeValue } = {};
    const values = obj(v.kvlistValue, 'kvlistValue')?.values;
    inField('kvlistValue', () => decodeKeyValues(values, r, 'values', depth + 1, out));
    return out;
  }
  return null;
}

function decodeKeyValues(v: unknown, r: ValueReader, field: string, depth = 0, out: Attributes = {}): Attributes {
  const kvs = list(v, field);
  for (let i = 0; i < kvs.length; i++) {
    const kv = kvs[i]!;
    try {
      const key = r.string(kv.key, 'key');
      out[key] = decodeAnyValue(obj(kv.value, 'value'), r, depth);
    } catch (err) {
      within(`${field}[${i}]`, err);
    }
  }
  return out;
}

function decodeResource(o: Obj | undefined, r: ValueReader): Resource {
  const resource: Resource = { attributes: decodeKeyValues(o?.attributes, r, 'attributes') };
  const dropped = r.int(o?.droppedAttributesCount, 'droppedAttributesCount');
  if (dropped) resource.droppedAttributesCount = dropped;
  return resource;
}

function decodeScope(o: Obj | undefined, r: ValueReader): InstrumentationScope {
  const scope: InstrumentationScope = { name: r.string(o?.name, 'name') };
  const version = r.string(o?.version, 'version');
  if (version) scope.version = version;
  if (o?.attributes != null) {
    const attributes = decodeKeyValues(o.attributes, r, 'attributes');
    if (Object.keys(attributes).length > 0) scope.attributes = attributes;
  }
  return scope;
}

function schemaUrl(target: { schemaUrl?: string }, v: unknown, r: ValueReader): void {
  const url = r.string(v, 'schemaUrl');
  if (url) target.schemaUrl = url;
}

const SPAN_KIND_NAMES = ['SPAN_KIND_UNSPECIFIED', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT', 'SPAN_KIND_PRODUCER', 'SPAN_KIND_CONSUMER'] as const;
const STATUS_NAMES = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'] as const;
const TEMPORALITY_NAMES = ['AGGREGATION_TEMPORALITY_UNSPECIFIED', 'AGGREGATION_TEMPORALITY_DELTA', 'AGGREGATION_TEMPORALITY_CUMULATIVE'] as const;

const ALL_ZERO = /^0+$/;

function decodeEvent(e: Obj, r: ValueReader): Span['events'][number] {
  const event: Span['events'][number] = {
    timeUnixNano: r.int64(e.timeUnixNano, 'timeUnixNano'),
    name: r.string(e.name, 'name'),
    attributes: decodeKeyValues(e.attributes, r, 'attributes'),
  };
  const dropped = r.int(e.droppedAttributesCount, 'droppedAttributesCount');
  if (dropped) event.droppedAttributesCount = dropped;
  return event;
}

function decodeLink(l: Obj, r: ValueReader): Span['links'][number] {
  const traceId = r.id(l.traceId, 16, 'traceId');
  const spanId = r.id(l.spanId, 8, 'spanId');
  if (traceId === undefined || spanId === undefined) throw malformed('a link needs traceId and spanId');
  const link: Span['links'][number] = { traceId, spanId, attributes: decodeKeyValues(l.attributes, r, 'attributes') };
  const traceState = r.string(l.traceState, 'traceState');
  if (traceState) link.traceState = traceState;
  const dropped = r.int(l.droppedAttributesCount, 'droppedAttributesCount');
  if (dropped) link.droppedAttributesCount = dropped;
  const flags = r.int(l.flags, 'flags');
  if (flags) link.flags = flags;
  return link;
}

function decodeSpan(s: Obj, r: ValueReader): Span {
  const traceId = r.id(s.traceId, 16, 'traceId');
  const spanId = r.id(s.spanId, 8, 'spanId');
  if (traceId === undefined || ALL_ZERO.test(traceId)) throw malformed('traceId: missing or all zero');
  if (spanId === undefined || ALL_ZERO.test(spanId)) throw malformed('spanId: missing or all zero');
  const kind = r.enumValue(s.kind, SPAN_KIND_NAMES, 'kind');
  const status = obj(s.status, 'status');
  const statusCode = r.enumValue(status?.code, STATUS_NAMES, 'status.code');
  const statusMessage = r.string(status?.message, 'status.message');
  const span: Span = {
    traceId,
    spanId,
    name: r.string(s.name, 'name'),
    kind: (kind >= 0 && kind <= 5 ? kind : 0) as SpanKind,
    startTimeUnixNano: r.int64(s.startTimeUnixNano, 'startTimeUnixNano'),
    endTimeUnixNano: r.int64(s.endTimeUnixNano, 'endTimeUnixNano'),
    attributes: decodeKeyValues(s.attributes, r, 'attributes'),
    events: mapList(s.events, 'events', (e) => decodeEvent(e, r)),
    links: mapList(s.links, 'links', (l) => decodeLink(l, r)),
    status: { code: (statusCode >= 0 && statusCode <= 2 ? statusCode : 0) as StatusCode },
  };
  if (statusMessage) span.status.message = statusMessage;
  const parent = r.id(s.parentSpanId, 8, 'parentSpanId');
  if (parent !== undefined && !ALL_ZERO.test(parent)) span.parentSpanId = parent;
  const traceState = r.string(s.traceState, 'traceState');
  if (traceState) span.traceState = traceState;
  const flags = r.int(s.flags, 'flags');
  if (flags) span.flags = flags;
  const da = r.int(s.droppedAttributesCount, 'droppedAttributesCount');
  if (da) span.droppedAttributesCount = da;
  const de = r.int(s.droppedEventsCount, 'droppedEventsCount');
  if (de) span.droppedEventsCount = de;
  const dl = r.int(s.droppedLinksCount, 'droppedLinksCount');
  if (dl) span.droppedLinksCount = dl;
  return span;
}

function decodeTraces(message: Obj, r: ValueReader): DecodeResult {
  let items = 0;
  const resourceSpans = mapList(message.resourceSpans, 'resourceSpans', (rs): ResourceSpans => {
    const resource = obj(rs.resource, 'resource');
    const out: ResourceSpans = {
      resource: inField('resource', () => decodeResource(resource, r)),
      scopeSpans: mapList(rs.scopeSpans, 'scopeSpans', (ss): ScopeSpans => {
        const spans = mapList(ss.spans, 'spans', (s) => decodeSpan(s, r));
        items += spans.length;
        const scope = obj(ss.scope, 'scope');
        const scopeSpans: ScopeSpans = { scope: inField('scope', () => decodeScope(scope, r)), spans };
        schemaUrl(scopeSpans, ss.schemaUrl, r);
        return scopeSpans;
      }),
    };
    schemaUrl(out, rs.schemaUrl, r);
    return out;
  });
  return { batch: { signal: 'traces', resourceSpans }, items, rejected: 0 };
}

function decodeNumberPoint(p: Obj, r: ValueReader): NumberDataPoint {
  const point: NumberDataPoint = {
    attributes: decodeKeyValues(p.attributes, r, 'attributes'),
    startTimeUnixNano: r.int64(p.startTimeUnixNano, 'startTimeUnixNano'),
    timeUnixNano: r.int64(p.timeUnixNano, 'timeUnixNano'),
    value: 0,
  };
  if (has(p, 'asInt')) {
    point.value = Number(r.int64(p.asInt, 'asInt'));
    point.isInt = true;
  } else {
    point.value = r.double(p.asDouble, 'asDouble');
  }
  const flags = r.int(p.flags, 'flags');
  if (flags) point.flags = flags;
  return point;
}

function decodeHistogramPoint(p: Obj, r: ValueReader): HistogramDataPoint {
  const bounds = p.explicitBounds == null ? [] : p.explicitBounds;
  const counts = p.bucketCounts == null ? [] : p.bucketCounts;
  if (!Array.isArray(bounds) || !Array.isArray(counts)) throw malformed('explicitBounds and bucketCounts must be lists');
  const point: HistogramDataPoint = {
    attributes: decodeKeyValues(p.attributes, r, 'attributes'),
    startTimeUnixNano: r.int64(p.startTimeUnixNano, 'startTimeUnixNano'),
    timeUnixNano: r.int64(p.timeUnixNano, 'timeUnixNano'),
    count: Number(r.int64(p.count, 'count')),
    explicitBounds: bounds.map((b) => r.double(b, 'explicitBounds')),
    bucketCounts: counts.map((c) => Number(r.int64(c, 'bucketCounts'))),
  };
  if (point.bucketCounts.length !== 0 && point.bucketCounts.length !== point.explicitBounds.length + 1) {
    throw malformed('bucketCounts must have one more entry than explicitBounds');
  }
  if (has(p, 'sum')) point.sum = r.double(p.sum, 'sum');
  if (has(p, 'min')) point.min = r.double(p.min, 'min');
  if (has(p, 'max')) point.max = r.double(p.max, 'max');
  const flags = r.int(p.flags, 'flags');
  if (flags) point.flags = flags;
  return point;
}

function temporality(v: unknown, r: ValueReader): AggregationTemporality {
  const t = r.enumValue(v, TEMPORALITY_NAMES, 'aggregationTemporality');
  return (t >= 0 && t <= 2 ? t : 0) as AggregationTemporality;
}

interface MetricTally {
  items: number;
  rejected: number;
  rejectedKinds: Set<string>;
}

/** A decoded metric, or undefined when its type is one Sonde refuses (its points are tallied). */
function decodeMetric(m: Obj, r: ValueReader, tally: MetricTally): Metric | undefined {
  const base = { name: r.string(m.name, 'name') } as { name: string; description?: string; unit?: string };
  const description = r.string(m.description, 'description');
  if (description) base.description = description;
  const unit = r.string(m.unit, 'unit');
  if (unit) base.unit = unit;
  if (has(m, 'gauge')) {
    const g = obj(m.gauge, 'gauge')!;
    const dataPoints = inField('gauge', () => mapList(g.dataPoints, 'dataPoints', (p) => decodeNumberPoint(p, r)));
    tally.items += dataPoints.length;
    return { ...base, type: 'gauge', dataPoints };
  }
  if (has(m, 'sum')) {
    const s = obj(m.sum, 'sum')!;
    return inField('sum', () => {
      const dataPoints = mapList(s.dataPoints, 'dataPoints', (p) => decodeNumberPoint(p, r));
      tally.items += dataPoints.length;
      return { ...base, type: 'sum' as const, dataPoints, aggregationTemporality: temporality(s.aggregationTemporality, r), isMonotonic: r.bool(s.isMonotonic, 'isMonotonic') };
    });
  }
  if (has(m, 'histogram')) {
    const h = obj(m.histogram, 'histogram')!;
    return inField('histogram', () => {
      const dataPoints = mapList(h.dataPoints, 'dataPoints', (p) => decodeHistogramPoint(p, r));
      tally.items += dataPoints.length;
      return { ...base, type: 'histogram' as const, dataPoints, aggregationTemporality: temporality(h.aggregationTemporality, r) };
    });
  }
  for (const kind of ['exponentialHistogram', 'summary'] as const) {
    if (has(m, kind)) {
      tally.rejected += inField(kind, () => list(obj(m[kind], kind)!.dataPoints, 'dataPoints').length);
      tally.rejectedKinds.add(kind);
      return undefined;
    }
  }
  // A metric with no data at all is legal in OTLP (nothing to keep).
  return undefined;
}

function decodeMetrics(message: Obj, r: ValueReader): DecodeResult {
  const tally: MetricTally = { items: 0, rejected: 0, rejectedKinds: new Set() };
  const resourceMetrics = mapList(message.resourceMetrics, 'resourceMetrics', (rm): ResourceMetrics => {
    const resource = obj(rm.resource, 'resource');
    const out: ResourceMetrics = {
      resource: inField('resource', () => decodeResource(resource, r)),
      scopeMetrics: mapList(rm.scopeMetrics, 'scopeMetrics', (sm): ScopeMetrics => {
        const metrics: Metric[] = [];
        for (const metric of mapList(sm.metrics, 'metrics', (m) => decodeMetric(m, r, tally))) if (metric) metrics.push(metric);
        const scope = obj(sm.scope, 'scope');
        const scopeMetrics: ScopeMetrics = { scope: inField('scope', () => decodeScope(scope, r)), metrics };
        schemaUrl(scopeMetrics, sm.schemaUrl, r);
        return scopeMetrics;
      }),
    };
    schemaUrl(out, rm.schemaUrl, r);
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
