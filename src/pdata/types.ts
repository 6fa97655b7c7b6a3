// Sonde's in-memory telemetry model: plain objects shaped like OTLP
// (resource -> scope -> spans / metrics). Timestamps are int64 nanoseconds as bigint.

/** An attribute value as OTLP's AnyValue allows: scalars, bytes, arrays and key/value lists. */
export type AttributeValue =
  | string
  | number
  | boolean
  | Uint8Array
  | null
  | AttributeValue[]
  | { [key: string]: AttributeValue };

export type Attributes = Record<string, AttributeValue>;

export interface Resource {
  attributes: Attributes;
  droppedAttributesCount?: number;
}

export interface InstrumentationScope {
  name: string;
  version?: string;
  attributes?: Attributes;
}

/** OTLP span kinds, numbered as in the protocol. */
export const SpanKind = {
  UNSPECIFIED: 0,
  INTERNAL: 1,
  SERVER: 2,
  CLIENT: 3,
  PRODUCER: 4,
  CONSUMER: 5,
} as const;
export type SpanKind = (typeof SpanKind)[keyof typeof SpanKind];

export const StatusCode = { UNSET: 0, OK: 1, ERROR: 2 } as const;
export type StatusCode = (typeof StatusCode)[keyof typeof StatusCode];

export interface SpanEvent {
  timeUnixNano: bigint;
  name: string;
  attributes: Attributes;
  droppedAttributesCount?: number;
}

export interface SpanLink {
  traceId: string;
  spanId: string;
  traceState?: string;
  attributes: Attributes;
  droppedAttributesCount?: number;
  flags?: number;
}

export interface Span {
  /** 32 lowercase hex characters. */
  traceId: string;
  /** 16 lowercase hex characters. */
  spanId: string;
  /** 16 lowercase hex characters, absent for a root span. */
  parentSpanId?: string;
  traceState?: string;
  flags?: number;
  name: string;
  kind: SpanKind;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Attributes;
  events: SpanEvent[];
  links: SpanLink[];
  status: { code: StatusCode; message?: string };
  droppedAttributesCount?: number;
  droppedEventsCount?: number;
  droppedLinksCount?: number;
}

export interface ScopeSpans {
  scope: InstrumentationScope;
  spans: Span[];
  schemaUrl?: string;
}

export interface ResourceSpans {
  resource: Resource;
  scopeSpans: ScopeSpans[];
  schemaUrl?: string;
}

export const AggregationTemporality = { UNSPECIFIED: 0, DELTA: 1, CUMULATIVE: 2 } as const;
export type AggregationTemporality = (typeof AggregationTemporality)[keyof typeof AggregationTemporality];

export interface NumberDataPoint {
  attributes: Attributes;
  startTimeUnixNano: bigint;
  timeUnixNano: bigint;
  /** asInt is kept as a JS number: Sonde's counters stay far below 2^53. */
  value: number;
  isInt?: boolean;
  flags?: number;
}

export interface HistogramDataPoint {
  attributes: Attributes;
  startTimeUnixNano: bigint;
  timeUnixNano: bigint;
  count: number;
  sum?: number;
  min?: number;
  max?: number;
  /** Upper bounds; bucketCounts has one more entry (the +Inf bucket). */
  explicitBounds: number[];
  bucketCounts: number[];
  flags?: number;
}

export type MetricData =
  | { type: 'gauge'; dataPoints: NumberDataPoint[] }
  | { type: 'sum'; dataPoints: NumberDataPoint[]; aggregationTemporality: AggregationTemporality; isMonotonic: boolean }
  | { type: 'histogram'; dataPoints: HistogramDataPoint[]; aggregationTemporality: AggregationTemporality };

export type Metric = {
  name: string;
  description?: string;
  unit?: string;
} & MetricData;

export interface ScopeMetrics {
  scope: InstrumentationScope;
  metrics: Metric[];
  schemaUrl?: string;
}

export interface ResourceMetrics {
  resource: Resource;
  scopeMetrics: ScopeMetrics[];
  schemaUrl?: string;
}

export type Signal = 'traces' | 'metrics';
export const SIGNALS: readonly Signal[] = ['traces', 'metrics'];

/**
 * Where a batch came from, known to Sonde only (never exported, never encoded into OTLP).
 * `clientAddress` is the IP address of the peer that sent the request (IPv4-mapped IPv6
 * normalised to a.b.c.d), set by network receivers; k8sattributes associates by it.
 * Processors that pass a batch on keep the field; the batch processor keeps it only when every
 * merged batch came from the same client, so k8sattributes must run before `batch`.
 */
export interface RequestContext {
  clientAddress?: string;
}

export interface TracesBatch extends RequestContext {
  signal: 'traces';
  resourceSpans: ResourceSpans[];
}
export interface MetricsBatch extends RequestContext {
  signal: 'metrics';
  resourceMetrics: ResourceMetrics[];
}
/** What flows between components: one signal's data, resource first. */
export type TelemetryBatch = TracesBatch | MetricsBatch;
