// The latest value of every series the prometheus exporter serves, and when it last changed.
// Series not updated for `expirationMs` are removed (checked on every scrape and write).
import { type HistogramValue, type Label, type PromFamily, type PrometheusKind, labelsKey } from '../prometheus-naming/index.js';

export interface StoredSeries {
  labels: Label[];
  value: number;
  histogram: HistogramValue | undefined;
  timestampMs: number;
  /** Wall-clock ms of the last update, for expiry. */
  updatedMs: number;
}

export interface StoredFamily {
  name: string;
  type: PrometheusKind;
  help: string;
  unit: string;
  series: Map<string, StoredSeries>;
}

export interface UpsertResult {
  /** Points stored. */
  stored: number;
  /** Points refused because their name is already served with another type. */
  conflicts: number;
  conflictNames: string[];
}

export class SeriesStore {
  private readonly families = new Map<string, StoredFamily>();

  constructor(
    private readonly expirationMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  upsert(families: readonly PromFamily[]): UpsertResult {
    const nowMs = this.now();
    const result: UpsertResult = { stored: 0, conflicts: 0, conflictNames: [] };
    for (const f of families) {
      let stored = this.families.get(f.name);
      if (stored === undefined) {
        stored = { name: f.name, type: f.type, help: f.help, unit: f.unit, series: new Map() };
        this.families.set(f.name, stored);
      } else if (stored.type !== f.type) {
        result.conflicts += f.points.length;
        result.conflictNames.push(f.name);
        continue;
      }
      if (f.help) stored.help = f.help;
      for (const p of f.points) {
        const key = labelsKey('', p.labels);
        const prev = stored.series.get(key);
        // A point older than what is held (a late cumulative) does not roll the value back.
        if (prev !== undefined && p.timestampMs < prev.timestampMs) {
          prev.updatedMs = nowMs;
          continue;
        }
        stored.series.set(key, { labels: p.labels, value: p.value, histogram: p.histogram, timestampMs: p.timestampMs, updatedMs: nowMs });
        result.stored++;
      }
    }
    return result;
  }

  /** Drops expired series, then returns the families sorted by name. */
  snapshot(): StoredFamily[] {
    this.expire();
    return [...this.families.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  expire(): void {
    if (this.expirationMs <= 0) return;
    const cutoff = this.now() - this.expirationMs;
    for (const [name, f] of this.families) {
      for (const [key, s] of f.series) if (s.updatedMs < cutoff) f.series.delete(key);
      if (f.series.size === 0) this.families.delete(name);
    }
  }

  get seriesCount(): number {
    let n = 0;
    for (const f of this.families.values()) n += f.series.size;
    return n;
  }
}
