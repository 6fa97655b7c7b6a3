import type { AttributeValue, Attributes, Metric, TelemetryBatch } from '../../pdata/types.js';
import { countItems } from '../../pdata/count.js';

export type Verbosity = 'basic' | 'normal' | 'detailed';

const KIND = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];
const STATUS = ['Unset', 'Ok', 'Error'];

function value(v: AttributeValue): string {
  if (v instanceof Uint8Array) return `bytes(${Buffer.from(v).toString('hex')})`;
  if (Array.isArray(v)) return `[${v.map(value).join(', ')}]`;
  if (v !== null && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${k}=${value(x)}`).join(', ')}}`;
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function attrs(a: Attributes): string {
  return Object.entries(a).map(([k, v]) => `${k}=${value(v)}`).join(' ');
}

function isoNs(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac}Z`;
}

function metricLine(m: Metric, detailed: boolean): string[] {
  const head = `${m.name} ${m.type}${m.unit ? ` [${m.unit}]` : ''}`;
  const lines: string[] = [];
  for (const p of m.dataPoints) {
    let v: string;
    if (m.type === 'histogram') {
      const h = p as (typeof m.dataPoints)[number];
      v = `count=${h.count} sum=${h.sum ?? ''}${detailed ? ` buckets=${h.bucketCounts.join(',')} bounds=${h.explicitBounds.join(',')}` : ''}`;
    } else v = `value=${(p as { value: number }).value}`;
    lines.push(`  ${head} ${v} {${attrs(p.attributes)}}`);
  }
  return lines;
}

/** Human-readable text for a batch: one summary line, then one line per item (normal), plus details (detailed). */
export function formatBatch(batch: TelemetryBatch, verbosity: Verbosity): string {
  const n = countItems(batch);
  const out: string[] = [];
  if (batch.signal === 'traces') {
    out.push(`Traces: ${batch.resourceSpans.length} resource(s), ${n} span(s)`);
    if (verbosity === 'basic') return out.join('\n');
    for (const rs of batch.resourceSpans) {
      out.push(`Resource {${attrs(rs.resource.attributes)}}`);
      for (const ss of rs.scopeSpans) {
        for (const s of ss.spans) {
          const ms = Number(s.endTimeUnixNano - s.startTimeUnixNano) / 1e6;
          out.push(`  ${KIND[s.kind]} "${s.name}" trace=${s.traceId} span=${s.spanId}${s.parentSpanId ? ` parent=${s.parentSpanId}` : ''} ${ms.toFixed(3)}ms status=${STATUS[s.status.code]}`);
          if (verbosity === 'detailed') {
            out.push(`    start=${isoNs(s.startTimeUnixNano)} end=${isoNs(s.endTimeUnixNano)} scope=${ss.scope.name}`);
            out.push(`    attributes: ${attrs(s.attributes)}`);
            for (const e of s.events) out.push(`    event ${isoNs(e.timeUnixNano)} "${e.name}" ${attrs(e.attributes)}`);
            for (const l of s.links) out.push(`    link trace=${l.traceId} span=${l.spanId} ${attrs(l.attributes)}`);
          }
        }
      }
    }
  } else {
    out.push(`Metrics: ${batch.resourceMetrics.length} resource(s), ${n} data point(s)`);
    if (verbosity === 'basic') return out.join('\n');
    for (const rm of batch.resourceMetrics) {
      out.push(`Resource {${attrs(rm.resource.attributes)}}`);
      for (const sm of rm.scopeMetrics) for (const m of sm.metrics) out.push(...metricLine(m, verbosity === 'detailed'));
    }
  }
  return out.join('\n');
}
