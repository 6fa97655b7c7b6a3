// W3C Trace Context `traceparent`: version-traceid-parentid-flags, lowercase hex.
// https://www.w3.org/TR/trace-context/#traceparent-header

export interface TraceParent {
  traceId: string;
  parentSpanId: string;
  flags: number;
}

const HEX = /^[0-9a-f]+$/;
const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

/** Parses a traceparent value; undefined when it is not valid (then a new trace is started). */
export function parseTraceParent(value: string): TraceParent | undefined {
  const v = value.trim();
  // Version 00 is exactly 55 characters; later versions may append fields after a dash.
  if (v.length < 55 || (v.length > 55 && v[55] !== '-')) return undefined;
  const version = v.slice(0, 2);
  if (v[2] !== '-' || v[35] !== '-' || v[52] !== '-') return undefined;
  if (!HEX.test(version) || version === 'ff') return undefined;
  if (version === '00' && v.length !== 55) return undefined;
  const traceId = v.slice(3, 35);
  const parentSpanId = v.slice(36, 52);
  const flags = v.slice(53, 55);
  if (!HEX.test(traceId) || !HEX.test(parentSpanId) || !HEX.test(flags)) return undefined;
  if (traceId === ZERO_TRACE || parentSpanId === ZERO_SPAN) return undefined;
  return { traceId, parentSpanId, flags: parseInt(flags, 16) };
}
