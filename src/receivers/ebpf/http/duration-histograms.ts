// Cumulative explicit-bucket histograms for http.server/client.request.duration, one series per
// (resource, attribute set), with a cap on series per histogram: past it, data points land in a
// single overflow series carrying otel.metric.overflow=true (as the OpenTelemetry SDKs do).

import type { Attributes, HistogramDataPoint, Metric, Resource } from '../../../pdata/types.js';
import { AggregationTemporality } from '../../../pdata/types.js';
import { CumulativeHistogram } from '../cumulative-histogram.js';

/** The semantic-convention buckets for HTTP durations, in seconds. */
export const HTTP_DURATION_BOUNDS: readonly number[] = [0, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

interface Series {
  resourceKey: string;
  resource: Resource;
  attributes: Attributes;
  startNs: bigint;
  hist: CumulativeHistogram;
}

export interface HistogramOptions {
  name: string;
  description: string;
  unit: string;
  bounds?: readonly number[];
  maxSeries: number;
  /** Called each time a data point goes to the overflow series. */
  onOverflow?: () => void;
}

export class DurationHistogram {
  private readonly series = new Map<string, Series>();
  private readonly bounds: readonly number[];
  private overflowCount = 0;

  constructor(private readonly options: HistogramOptions) {
    this.bounds = options.bounds ?? HTTP_DURATION_BOUNDS;
  }

  /**
   * Records one value. `key` identifies the attribute set (the caller builds it from the same
   * values as `attributes`; attributes are only read when the series is new).
   */
  record(resource: Resource, resourceKey: string, key: string, attributes: () => Attributes, seconds: number, nowNs: bigint | (() => bigint)): void {
    const fullKey = resourceKey + '\u0000' + key;
    let s = this.series.get(fullKey);
    if (!s) {
      if (typeof nowNs === 'function') nowNs = nowNs(); // the clock is read only for a new series
      if (this.series.size - this.overflowCount >= this.options.maxSeries) {
        this.options.onOverflow?.();
        const ovKey = resourceKey + '\u0000\u0001overflow';
        s = this.series.get(ovKey);
        if (!s) {
          s = this.newSeries(resource, resourceKey, { 'otel.metric.overflow': true }, nowNs);
          this.series.set(ovKey, s);
          this.overflowCount++;
        }
      } else {
        s = this.newSeries(resource, resourceKey, attributes(), nowNs);
        this.series.set(fullKey, s);
      }
    }
    s.hist.record(seconds);
  }

  private newSeries(resource: Resource, resourceKey: string, attributes: Attributes, nowNs: bigint): Series {
    return { resourceKey, resource, attributes, startNs: nowNs, hist: new CumulativeHistogram(this.bounds) };
  }

  get seriesCount(): number {
    return this.series.size;
  }

  /** One cumulative Metric per resource that has series. */
  collect(nowNs: bigint): Map<string, { resource: Resource; metric: Metric }> {
    const byResource = new Map<string, { resource: Resource; points: HistogramDataPoint[] }>();
    for (const s of this.series.values()) {
      let entry = byResource.get(s.resourceKey);
      if (!entry) byResource.set(s.resourceKey, (entry = { resource: s.resource, points: [] }));
      entry.points.push(s.hist.toPoint(s.attributes, s.startNs, nowNs));
    }
    const out = new Map<string, { resource: Resource; metric: Metric }>();
    for (const [rk, { resource, points }] of byResource) {
      out.set(rk, {
        resource,
        metric: {
          name: this.options.name,
          description: this.options.description,
          unit: this.options.unit,
          type: 'histogram',
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPoints: points,
        },
      });
    }
    return out;
  }
}
