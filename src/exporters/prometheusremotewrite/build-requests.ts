// Prometheus families -> remote-write time series, split into requests of at most N samples.
// Samples of one series keep their timestamp order, within a request and across the requests
// that follow one another.
import { type Label, type PromFamily, formatNumber, labelsKey } from '../prometheus-naming/index.js';
import type { Sample, TimeSeries } from './write-request.js';

export interface PendingRequest {
  timeseries: TimeSeries[];
  /** Samples in the request. */
  samples: number;
  /** Data points (OTLP items) whose first sample is in this request, for the exporter counters. */
  items: number;
}

interface SeriesBuilder {
  labels: Label[];
  samples: Sample[];
  /** Per sample: how many data points it stands for (1 on a point's first sample, else 0). */
  weights: number[];
}

function compareLabels(a: Label, b: Label): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function withName(name: string, labels: readonly Label[], extra?: Label): Label[] {
  const out: Label[] = [{ name: '__name__', value: name }, ...labels];
  if (extra) out.push(extra);
  // Byte order: `__name__` is not always first (upper-case label names sort before `_`).
  return out.sort(compareLabels);
}

/** Groups the points of the given families into series (one per label set), ordered by time. */
export function buildSeries(families: readonly PromFamily[]): SeriesBuilder[] {
  const byKey = new Map<string, SeriesBuilder>();
  const add = (name: string, labels: readonly Label[], extra: Label | undefined, value: number, ts: number, weight: number): void => {
    const key = labelsKey(name, extra ? [...labels, extra] : labels);
    let s = byKey.get(key);
    if (s === undefined) {
      s = { labels: withName(name, labels, extra), samples: [], weights: [] };
      byKey.set(key, s);
    }
    s.samples.push({ value, timestamp: ts });
    s.weights.push(weight);
  };
  for (const f of families) {
    const counted = f.name !== 'target_info';
    for (const p of f.points) {
      const w = counted ? 1 : 0;
      const h = p.histogram;
      if (f.type === 'histogram' && h) {
        for (let i = 0; i < h.bounds.length; i++) {
          add(`${f.name}_bucket`, p.labels, { name: 'le', value: formatNumber(h.bounds[i]!) }, h.cumulativeCounts[i]!, p.timestampMs, i === 0 ? w : 0);
        }
        add(`${f.name}_bucket`, p.labels, { name: 'le', value: '+Inf' }, h.count, p.timestampMs, h.bounds.length === 0 ? w : 0);
        add(`${f.name}_count`, p.labels, undefined, h.count, p.timestampMs, 0);
        if (h.sum !== undefined) add(`${f.name}_sum`, p.labels, undefined, h.sum, p.timestampMs, 0);
      } else {
        add(f.name, p.labels, undefined, p.value, p.timestampMs, w);
      }
    }
  }
  const out = [...byKey.values()];
  for (const s of out) sortByTime(s);
  return out;
}

function sortByTime(s: SeriesBuilder): void {
  let sorted = true;
  for (let i = 1; i < s.samples.length; i++) if (s.samples[i]!.timestamp < s.samples[i - 1]!.timestamp) sorted = false;
  if (sorted) return;
  const idx = s.samples.map((_, i) => i).sort((a, b) => s.samples[a]!.timestamp - s.samples[b]!.timestamp || a - b);
  s.samples = idx.map((i) => s.samples[i]!);
  s.weights = idx.map((i) => s.weights[i]!);
}

/**
 * Splits series into requests of at most `maxSamples` samples. A series longer than that is cut
 * into consecutive chunks, earliest first, so sending the requests in order keeps each series in order.
 */
export function splitRequests(series: readonly SeriesBuilder[], maxSamples: number): PendingRequest[] {
  const out: PendingRequest[] = [];
  let cur: PendingRequest = { timeseries: [], samples: 0, items: 0 };
  for (const s of series) {
    let offset = 0;
    while (offset < s.samples.length) {
      const room = maxSamples - cur.samples;
      if (room <= 0) {
        out.push(cur);
        cur = { timeseries: [], samples: 0, items: 0 };
        continue;
      }
      const take = Math.min(room, s.samples.length - offset);
      cur.timeseries.push({ labels: s.labels, samples: s.samples.slice(offset, offset + take) });
      for (let i = offset; i < offset + take; i++) cur.items += s.weights[i]!;
      cur.samples += take;
      offset += take;
    }
  }
  if (cur.samples > 0) out.push(cur);
  return out;
}
