// A metrics batch -> Prometheus metric families (name, type, help, labelled points), shared by the
// scrape endpoint and remote write. Delta sums and histograms go through DeltaToCumulative.
import type { Attributes, HistogramDataPoint, Metric, MetricsBatch, NumberDataPoint } from '../../pdata/types.js';
import { AggregationTemporality } from '../../pdata/types.js';
import { type DeltaToCumulative, attributesKey } from './delta-to-cumulative.js';
import { type Label, addAttributeLabels, labelsKey, sortedLabels } from './labels.js';
import { type PrometheusKind, prometheusMetricName, unitSuffix } from './metric-name.js';
import { type ResourceCopy, copiedResourceAttributes, jobAndInstance, targetInfoAttributes } from './resource.js';

export const TARGET_INFO = 'target_info';

export interface HistogramValue {
  /** Upper bounds, without +Inf. */
  bounds: number[];
  /** Cumulative count per bound, then the +Inf count (= count): bounds.length + 1 entries. */
  cumulativeCounts: number[];
  count: number;
  sum: number | undefined;
}

export interface PromPoint {
  /** Sorted by name; never contains __name__ or (for histograms) le. */
  labels: Label[];
  timestampMs: number;
  /** For counters and gauges. */
  value: number;
  histogram?: HistogramValue;
}

export interface PromFamily {
  /** The full name: counters end in `_total`; histogram samples add `_bucket` / `_sum` / `_count`. */
  name: string;
  type: PrometheusKind;
  help: string;
  /** Unit suffix words (`seconds`), '' if none. */
  unit: string;
  points: PromPoint[];
}

export interface TranslateOptions {
  namespace: string;
  resourceCopy: ResourceCopy;
  cumulative: DeltaToCumulative;
  /** Emit one target_info series per resource that has attributes beyond job/instance. */
  targetInfo: boolean;
  /**
   * Last target_info time per label set, for remote write: target_info is stamped with the newest
   * point of its resource in the batch, and a batch holding only older points must not send it
   * back in time (Prometheus would refuse the whole request as out of order).
   */
  targetInfoTimes?: Map<string, number>;
  now?: () => number;
}

export interface TranslateResult {
  families: PromFamily[];
  /** Data points translated (target_info not counted). */
  points: number;
  /** Data points that could not be translated, with the reason for the first few. */
  dropped: number;
  problems: string[];
}

const NS_PER_MS = 1_000_000n;

function kindOf(metric: Metric): PrometheusKind {
  if (metric.type === 'histogram') return 'histogram';
  if (metric.type === 'sum' && metric.isMonotonic) return 'counter';
  return 'gauge';
}

export function translateMetrics(batch: MetricsBatch, options: TranslateOptions): TranslateResult {
  const now = options.now ?? Date.now;
  const families = new Map<string, PromFamily>();
  const result: TranslateResult = { families: [], points: 0, dropped: 0, problems: [] };
  const drop = (n: number, why: string): void => {
    result.dropped += n;
    if (result.problems.length < 5) result.problems.push(why);
  };
  const toMs = (t: bigint): number => (t > 0n ? Number(t / NS_PER_MS) : now());

  for (const rm of batch.resourceMetrics) {
    const resourceAttrs = rm.resource.attributes;
    const resourceKey = attributesKey(resourceAttrs);
    const copied = copiedResourceAttributes(resourceAttrs, options.resourceCopy);
    const identity = jobAndInstance(resourceAttrs);
    let latestMs = -1;

    const pointLabels = (attributes: Attributes): Label[] => {
      const map = new Map<string, string>();
      addAttributeLabels(map, copied);
      addAttributeLabels(map, attributes);
      for (const [k, v] of identity) map.set(k, v);
      map.delete('__name__');
      return sortedLabels(map);
    };

    for (const sm of rm.scopeMetrics) {
      const scopeKey = `${sm.scope.name}\u0001${sm.scope.version ?? ''}`;
      for (const metric of sm.metrics) {
        const kind = kindOf(metric);
        const name = prometheusMetricName(metric.name, metric.unit, kind, options.namespace);
        let family = families.get(name);
        if (family === undefined) {
          family = { name, type: kind, help: metric.description ?? '', unit: unitSuffix(metric.unit, kind), points: [] };
          families.set(name, family);
        } else if (family.type !== kind) {
          drop(metric.dataPoints.length, `metric ${metric.name} maps to ${name}, already used by a ${family.type}`);
          continue;
        }
        const seriesKey = `${resourceKey}\u0003${scopeKey}\u0003${metric.name}\u0003${metric.unit ?? ''}\u0003${metric.type}`;
        if (metric.type === 'histogram') {
          const delta = metric.aggregationTemporality === AggregationTemporality.DELTA;
          for (const raw of metric.dataPoints) {
            if (!validHistogram(raw)) {
              drop(1, `histogram ${metric.name}: ${raw.bucketCounts.length} bucket counts for ${raw.explicitBounds.length} bounds`);
              continue;
            }
            const p = delta ? options.cumulative.histogram(seriesKey, raw) : raw;
            const ts = toMs(p.timeUnixNano);
            if (ts > latestMs) latestMs = ts;
            family.points.push({ labels: pointLabels(p.attributes), timestampMs: ts, value: p.count, histogram: histogramValue(p) });
            result.points++;
          }
        } else {
          const delta = metric.type === 'sum' && metric.aggregationTemporality === AggregationTemporality.DELTA;
          for (const raw of metric.dataPoints) {
            const p: NumberDataPoint = delta ? options.cumulative.sum(seriesKey, raw) : raw;
            const ts = toMs(p.timeUnixNano);
            if (ts > latestMs) latestMs = ts;
            family.points.push({ labels: pointLabels(p.attributes), timestampMs: ts, value: p.value });
            result.points++;
          }
        }
      }
    }

    if (options.targetInfo && latestMs >= 0) {
      const infoAttrs = targetInfoAttributes(resourceAttrs);
      if (Object.keys(infoAttrs).length > 0) {
        const map = new Map<string, string>();
        addAttributeLabels(map, infoAttrs);
        for (const [k, v] of identity) map.set(k, v);
        map.delete('__name__');
        const labels = sortedLabels(map);
        const times = options.targetInfoTimes;
        const key = times ? labelsKey(TARGET_INFO, labels) : '';
        const last = times?.get(key);
        if (last === undefined || latestMs > last) {
          times?.set(key, latestMs);
          let family = families.get(TARGET_INFO);
          if (family === undefined) {
            family = { name: TARGET_INFO, type: 'gauge', help: 'Target metadata', unit: '', points: [] };
            families.set(TARGET_INFO, family);
          }
          family.points.push({ labels, timestampMs: latestMs, value: 1 });
        }
      }
    }
  }
  for (const f of families.values()) if (f.points.length > 0) result.families.push(f);
  return result;
}

function validHistogram(p: HistogramDataPoint): boolean {
  return p.bucketCounts.length === 0 || p.bucketCounts.length === p.explicitBounds.length + 1;
}

/** OTLP bucket counts are per bucket; Prometheus `le` buckets are cumulative, ending with +Inf = count. */
function histogramValue(p: HistogramDataPoint): HistogramValue {
  if (p.bucketCounts.length === 0) return { bounds: [], cumulativeCounts: [p.count], count: p.count, sum: p.sum };
  const cumulativeCounts = new Array<number>(p.bucketCounts.length);
  let running = 0;
  for (let i = 0; i < p.bucketCounts.length; i++) {
    running += p.bucketCounts[i]!;
    cumulativeCounts[i] = running;
  }
  return { bounds: p.explicitBounds, cumulativeCounts, count: p.count, sum: p.sum };
}
