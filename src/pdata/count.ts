import type { TelemetryBatch } from './types.js';

/**
 * Items in a batch, as the Collector counts them: spans for traces, data points for metrics.
 */
export function countItems(batch: TelemetryBatch): number {
  let n = 0;
  if (batch.signal === 'traces') {
    for (const rs of batch.resourceSpans) for (const ss of rs.scopeSpans) n += ss.spans.length;
  } else {
    for (const rm of batch.resourceMetrics)
      for (const sm of rm.scopeMetrics) for (const m of sm.metrics) n += m.dataPoints.length;
  }
  return n;
}
