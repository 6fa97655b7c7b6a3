// Prometheus only understands cumulative counters and histograms. Delta points are added to a
// running total per series (resource + scope + metric + attributes) instead of being dropped.
import type { Attributes, HistogramDataPoint, NumberDataPoint } from '../../pdata/types.js';
import { labelValue } from './labels.js';

const NS_PER_MS = 1_000_000n;

interface SumState {
  kind: 'sum';
  startTimeUnixNano: bigint;
  lastTimeUnixNano: bigint;
  value: number;
  lastSeenMs: number;
}

interface HistogramState {
  kind: 'histogram';
  startTimeUnixNano: bigint;
  lastTimeUnixNano: bigint;
  bounds: number[];
  bucketCounts: number[];
  count: number;
  sum: number | undefined;
  min: number | undefined;
  max: number | undefined;
  lastSeenMs: number;
}

/** A stable string for an attribute map, independent of key order. */
export function attributesKey(attributes: Attributes | undefined): string {
  if (!attributes) return '';
  const keys = Object.keys(attributes);
  if (keys.length === 0) return '';
  keys.sort();
  let out = '';
  for (const k of keys) out += `${k}\u0001${labelValue(attributes[k]!)}\u0000`;
  return out;
}

/**
 * A late delta (its time not after the previous one, at millisecond precision) still counts; it is
 * stamped 1 ms after the previous sample so that the series stays strictly increasing in time.
 */
function nextTime(pointTime: bigint, lastTime: bigint): bigint {
  if (lastTime === 0n) return pointTime;
  const lastMs = lastTime / NS_PER_MS;
  return pointTime / NS_PER_MS > lastMs ? pointTime : (lastMs + 1n) * NS_PER_MS;
}

export interface DeltaToCumulativeOptions {
  /** Series with no new delta for this long are forgotten (their next delta starts a new total). 0 = never. */
  maxStaleMs: number;
  now?: () => number;
}

export class DeltaToCumulative {
  private readonly states = new Map<string, SumState | HistogramState>();
  private readonly maxStaleMs: number;
  private readonly now: () => number;
  private lastSweepMs: number;

  constructor(options: DeltaToCumulativeOptions) {
    this.maxStaleMs = options.maxStaleMs;
    this.now = options.now ?? Date.now;
    this.lastSweepMs = this.now();
  }

  /** Number of series with a running total. */
  get size(): number {
    return this.states.size;
  }

  /** The cumulative form of a delta sum point. `seriesKey` identifies resource + scope + metric. */
  sum(seriesKey: string, point: NumberDataPoint): NumberDataPoint {
    const key = `${seriesKey}\u0002${attributesKey(point.attributes)}`;
    const nowMs = this.now();
    let state = this.live(key, nowMs);
    if (state === undefined || state.kind !== 'sum') {
      state = { kind: 'sum', startTimeUnixNano: point.startTimeUnixNano || point.timeUnixNano, lastTimeUnixNano: 0n, value: 0, lastSeenMs: nowMs };
      this.states.set(key, state);
    }
    state.value += point.value;
    state.lastTimeUnixNano = nextTime(point.timeUnixNano, state.lastTimeUnixNano);
    state.lastSeenMs = nowMs;
    this.maybeSweep(nowMs);
    return { ...point, startTimeUnixNano: state.startTimeUnixNano, timeUnixNano: state.lastTimeUnixNano, value: state.value };
  }

  /** The cumulative form of a delta histogram point. A change of bucket bounds starts a new total. */
  histogram(seriesKey: string, point: HistogramDataPoint): HistogramDataPoint {
    const key = `${seriesKey}\u0002${attributesKey(point.attributes)}`;
    const nowMs = this.now();
    let state = this.live(key, nowMs);
    if (state === undefined || state.kind !== 'histogram' || !sameBounds(state.bounds, point.explicitBounds)) {
      state = {
        kind: 'histogram',
        startTimeUnixNano: point.startTimeUnixNano || point.timeUnixNano,
        lastTimeUnixNano: 0n,
        bounds: [...point.explicitBounds],
        bucketCounts: new Array<number>(point.bucketCounts.length).fill(0),
        count: 0,
        sum: undefined,
        min: undefined,
        max: undefined,
        lastSeenMs: nowMs,
      };
      this.states.set(key, state);
    }
    for (let i = 0; i < point.bucketCounts.length; i++) state.bucketCounts[i]! += point.bucketCounts[i]!;
    state.count += point.count;
    if (point.sum !== undefined) state.sum = (state.sum ?? 0) + point.sum;
    if (point.min !== undefined) state.min = state.min === undefined ? point.min : Math.min(state.min, point.min);
    if (point.max !== undefined) state.max = state.max === undefined ? point.max : Math.max(state.max, point.max);
    state.lastTimeUnixNano = nextTime(point.timeUnixNano, state.lastTimeUnixNano);
    state.lastSeenMs = nowMs;
    this.maybeSweep(nowMs);
    const out: HistogramDataPoint = {
      ...point,
      startTimeUnixNano: state.startTimeUnixNano,
      timeUnixNano: state.lastTimeUnixNano,
      count: state.count,
      explicitBounds: state.bounds,
      bucketCounts: [...state.bucketCounts],
    };
    if (state.sum !== undefined) out.sum = state.sum;
    else delete out.sum;
    if (state.min !== undefined) out.min = state.min;
    if (state.max !== undefined) out.max = state.max;
    return out;
  }

  /**
   * The running total of `key`, unless it went stale: a series back after more than maxStaleMs
   * starts a new total whether or not a sweep has run meanwhile (the Prometheus exporter stopped
   * serving it at the same moment, so continuing the old total would resurrect it).
   */
  private live(key: string, nowMs: number): SumState | HistogramState | undefined {
    const state = this.states.get(key);
    if (state !== undefined && this.maxStaleMs > 0 && nowMs - state.lastSeenMs > this.maxStaleMs) return undefined;
    return state;
  }

  private maybeSweep(nowMs: number): void {
    if (this.maxStaleMs <= 0 || nowMs - this.lastSweepMs < this.maxStaleMs / 2) return;
    this.lastSweepMs = nowMs;
    for (const [key, state] of this.states) if (nowMs - state.lastSeenMs > this.maxStaleMs) this.states.delete(key);
  }
}

function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
