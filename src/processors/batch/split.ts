import type { ResourceMetrics, ResourceSpans, TelemetryBatch } from '../../pdata/types.js';

/**
 * Splits a batch into pieces of at most `max` items (spans or data points), keeping each item
 * under its own resource and scope. Items are moved, not copied; every piece keeps the batch's
 * clientAddress (the sender it came from).
 */
export function splitBatch(batch: TelemetryBatch, max: number): TelemetryBatch[] {
  if (batch.signal === 'traces') {
    const out: ResourceSpans[][] = [[]];
    let room = max;
    for (const rs of batch.resourceSpans) {
      for (const ss of rs.scopeSpans) {
        let i = 0;
        while (i < ss.spans.length) {
          if (room === 0) {
            out.push([]);
            room = max;
          }
          const take = ss.spans.slice(i, i + room);
          i += take.length;
          room -= take.length;
          const cur = out[out.length - 1]!;
          let target = cur.find((x) => x.resource === rs.resource);
          if (!target) {
            target = { resource: rs.resource, scopeSpans: [], schemaUrl: rs.schemaUrl };
            cur.push(target);
          }
          target.scopeSpans.push({ scope: ss.scope, spans: take, schemaUrl: ss.schemaUrl });
        }
      }
    }
    return out.filter((x) => x.length > 0).map((resourceSpans) => withClient({ signal: 'traces', resourceSpans }, batch));
  }
  const out: ResourceMetrics[][] = [[]];
  let room = max;
  for (const rm of batch.resourceMetrics) {
    for (const sm of rm.scopeMetrics) {
      for (const m of sm.metrics) {
        let i = 0;
        while (i < m.dataPoints.length) {
          if (room === 0) {
            out.push([]);
            room = max;
          }
          const n = Math.min(room, m.dataPoints.length - i);
          const part = { ...m, dataPoints: m.dataPoints.slice(i, i + n) } as typeof m;
          i += n;
          room -= n;
          const cur = out[out.length - 1]!;
          let target = cur.find((x) => x.resource === rm.resource);
          if (!target) {
            target = { resource: rm.resource, scopeMetrics: [], schemaUrl: rm.schemaUrl };
            cur.push(target);
          }
          let scope = target.scopeMetrics.find((s) => s.scope === sm.scope);
          if (!scope) {
            scope = { scope: sm.scope, metrics: [], schemaUrl: sm.schemaUrl };
            target.scopeMetrics.push(scope);
          }
          scope.metrics.push(part);
        }
      }
    }
  }
  return out.filter((x) => x.length > 0).map((resourceMetrics) => withClient({ signal: 'metrics', resourceMetrics }, batch));
}

function withClient(part: TelemetryBatch, from: TelemetryBatch): TelemetryBatch {
  if (from.clientAddress !== undefined) part.clientAddress = from.clientAddress;
  return part;
}
