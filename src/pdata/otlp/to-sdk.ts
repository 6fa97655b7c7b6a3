// Sonde pdata -> the OpenTelemetry JS SDK shapes that @opentelemetry/otlp-transformer serializes.
// The serializers group spans by resource and scope object identity, so every span of one
// ResourceSpans / ScopeSpans gets the very same resource / scope object.
import type { Attributes as SdkAttributes, HrTime, Link, SpanContext } from '@opentelemetry/api';
import type { Resource as SdkResource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import {
  AggregationTemporality as SdkTemporality,
  DataPointType,
  type MetricData as SdkMetricData,
  type ResourceMetrics as SdkResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { ValueType } from '@opentelemetry/api';
import type { InstrumentationScope as SdkScope } from '@opentelemetry/core';
import {
  AggregationTemporality,
  type Attributes,
  type Metric,
  type Resource,
  type ResourceMetrics,
  type ResourceSpans,
  type InstrumentationScope,
  type Span,
} from '../types.js';

const NS_PER_S = 1_000_000_000n;

export function toHrTime(ns: bigint): HrTime {
  return [Number(ns / NS_PER_S), Number(ns % NS_PER_S)];
}

// The SDK's Attributes type is narrower than OTLP's AnyValue; the serializer itself handles
// bytes, nested arrays and key/value lists, so the cast only widens what it already accepts.
const sdkAttributes = (a: Attributes): SdkAttributes => a as unknown as SdkAttributes;

function sdkResource(resource: Resource, schemaUrl: string | undefined): SdkResource {
  return { attributes: sdkAttributes(resource.attributes), schemaUrl } as unknown as SdkResource;
}

function sdkScope(scope: InstrumentationScope, schemaUrl: string | undefined): SdkScope {
  return { name: scope.name, version: scope.version, schemaUrl, attributes: scope.attributes } as SdkScope;
}

function spanContext(traceId: string, spanId: string, flags: number | undefined, traceState?: string, isRemote?: boolean): SpanContext {
  const ctx: SpanContext = { traceId, spanId, traceFlags: (flags ?? 1) & 0xff };
  if (traceState) ctx.traceState = { serialize: () => traceState } as SpanContext['traceState'];
  if (isRemote !== undefined) ctx.isRemote = isRemote;
  return ctx;
}

/** OTLP span-flags bit 9 says whether the parent is remote (bit 8 says the bit is known). */
const FLAG_HAS_IS_REMOTE = 0x100;
const FLAG_IS_REMOTE = 0x200;

function toReadableSpan(span: Span, resource: SdkResource, scope: SdkScope): ReadableSpan {
  const ctx = spanContext(span.traceId, span.spanId, span.flags, span.traceState);
  const parentRemote = span.flags !== undefined && (span.flags & FLAG_HAS_IS_REMOTE) !== 0 ? (span.flags & FLAG_IS_REMOTE) !== 0 : undefined;
  const start = toHrTime(span.startTimeUnixNano);
  const end = toHrTime(span.endTimeUnixNano);
  const events: TimedEvent[] = span.events.map((e) => ({
    time: toHrTime(e.timeUnixNano),
    name: e.name,
    attributes: sdkAttributes(e.attributes),
    droppedAttributesCount: e.droppedAttributesCount ?? 0,
  }));
  const links: Link[] = span.links.map((l) => ({
    context: spanContext(l.traceId, l.spanId, l.flags, l.traceState),
    attributes: sdkAttributes(l.attributes),
    droppedAttributesCount: l.droppedAttributesCount ?? 0,
  }));
  return {
    name: span.name,
    // OTLP numbers kinds from UNSPECIFIED=0; the SDK from INTERNAL=0 and the serializer adds 1.
    kind: (span.kind === 0 ? null : span.kind - 1) as ReadableSpan['kind'],
    spanContext: () => ctx,
    parentSpanContext: span.parentSpanId
      ? spanContext(span.traceId, span.parentSpanId, span.flags, undefined, parentRemote)
      : undefined,
    startTime: start,
    endTime: end,
    duration: toHrTime(span.endTimeUnixNano - span.startTimeUnixNano),
    status: { code: span.status.code as number, message: span.status.message },
    attributes: sdkAttributes(span.attributes),
    links,
    events,
    ended: true,
    resource,
    instrumentationScope: scope,
    droppedAttributesCount: span.droppedAttributesCount ?? 0,
    droppedEventsCount: span.droppedEventsCount ?? 0,
    droppedLinksCount: span.droppedLinksCount ?? 0,
  };
}

export function toReadableSpans(resourceSpans: readonly ResourceSpans[]): ReadableSpan[] {
  const out: ReadableSpan[] = [];
  for (const rs of resourceSpans) {
    const resource = sdkResource(rs.resource, rs.schemaUrl);
    for (const ss of rs.scopeSpans) {
      const scope = sdkScope(ss.scope, ss.schemaUrl);
      for (const span of ss.spans) out.push(toReadableSpan(span, resource, scope));
    }
  }
  return out;
}

const TEMPORALITY: Record<number, SdkTemporality> = {
  [AggregationTemporality.DELTA]: SdkTemporality.DELTA,
  [AggregationTemporality.CUMULATIVE]: SdkTemporality.CUMULATIVE,
  [AggregationTemporality.UNSPECIFIED]: SdkTemporality.CUMULATIVE,
};

function toSdkMetric(m: Metric): SdkMetricData {
  const descriptor = { name: m.name, description: m.description ?? '', unit: m.unit ?? '' };
  if (m.type === 'histogram') {
    return {
      descriptor: { ...descriptor, valueType: ValueType.DOUBLE },
      aggregationTemporality: TEMPORALITY[m.aggregationTemporality]!,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: m.dataPoints.map((p) => ({
        attributes: sdkAttributes(p.attributes),
        startTime: toHrTime(p.startTimeUnixNano),
        endTime: toHrTime(p.timeUnixNano),
        value: {
          buckets: { boundaries: p.explicitBounds, counts: p.bucketCounts },
          count: p.count,
          sum: p.sum,
          min: p.min,
          max: p.max,
        },
      })),
    } as SdkMetricData;
  }
  const valueType = m.dataPoints.every((p) => p.isInt) ? ValueType.INT : ValueType.DOUBLE;
  const points = m.dataPoints.map((p) => ({
    attributes: sdkAttributes(p.attributes),
    startTime: toHrTime(p.startTimeUnixNano),
    endTime: toHrTime(p.timeUnixNano),
    value: p.value,
  }));
  if (m.type === 'sum') {
    return {
      descriptor: { ...descriptor, valueType },
      aggregationTemporality: TEMPORALITY[m.aggregationTemporality]!,
      dataPointType: DataPointType.SUM,
      isMonotonic: m.isMonotonic,
      dataPoints: points,
    };
  }
  return {
    descriptor: { ...descriptor, valueType },
    aggregationTemporality: SdkTemporality.CUMULATIVE,
    dataPointType: DataPointType.GAUGE,
    dataPoints: points,
  };
}

export function toSdkResourceMetrics(rm: ResourceMetrics): SdkResourceMetrics {
  return {
    resource: sdkResource(rm.resource, rm.schemaUrl),
    scopeMetrics: rm.scopeMetrics.map((sm) => ({
      scope: sdkScope(sm.scope, sm.schemaUrl),
      metrics: sm.metrics.map(toSdkMetric),
    })),
  };
}
