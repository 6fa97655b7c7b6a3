// Test data for the reliability tests: spans whose span ids encode a sequence number, so a
// backend can tell exactly which items arrived and how often.
import { SpanKind, StatusCode, type Span, type TracesBatch } from '../../src/pdata/types.js';

export const TRACE_ID = '5e1d0000000000000000000000000001';

/** Span id of sequence number `seq` (seq + 1: an all-zero span id is invalid in OTLP). */
export function spanIdOf(seq: number): string {
  return (seq + 1).toString(16).padStart(16, '0');
}

export function seqOf(spanId: string): number {
  return parseInt(spanId, 16) - 1;
}

/** `count` spans with sequence numbers first..first+count-1, in one resource and scope. */
export function spanBatch(first: number, count: number): TracesBatch {
  const spans: Span[] = [];
  for (let i = 0; i < count; i++) {
    spans.push({
      traceId: TRACE_ID,
      spanId: spanIdOf(first + i),
      name: 'GET /reliability',
      kind: SpanKind.SERVER,
      startTimeUnixNano: 1_700_000_000_000_000_000n + BigInt(first + i),
      endTimeUnixNano: 1_700_000_000_001_000_000n + BigInt(first + i),
      attributes: { 'http.request.method': 'GET', 'sonde.seq': first + i },
      events: [],
      links: [],
      status: { code: StatusCode.UNSET },
    });
  }
  return {
    signal: 'traces',
    resourceSpans: [{ resource: { attributes: { 'service.name': 'reliability-test' } }, scopeSpans: [{ scope: { name: 'sonde.test' }, spans }] }],
  };
}
