// A cumulative explicit-bucket histogram (OTLP semantics: bucket i counts values <= bounds[i]),
// shared by the TCP and HTTP duration metrics. Recording allocates nothing.
import type { HistogramDataPoint, Attributes } from '../../pdata/types.js';

export class CumulativeHistogram {
  readonly counts: number[];
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Array(bounds.length + 1).fill(0);
  }

  record(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]!++;
    this.count++;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  toPoint(attributes: Attributes, startTimeUnixNano: bigint, timeUnixNano: bigint): HistogramDataPoint {
    return {
      attributes,
      startTimeUnixNano,
      timeUnixNano,
      count: this.count,
      sum: this.sum,
      ...(this.count > 0 ? { min: this.min, max: this.max } : {}),
      explicitBounds: [...this.bounds],
      bucketCounts: [...this.counts],
    };
  }
}
