// Summary statistics for repeated benchmark runs: the median, and the spread as min..max plus the
// half-range relative to the median (so "+-4%" reads directly).

export interface Summary {
  median: number;
  min: number;
  max: number;
  /** (max - min) / 2 / median, as a fraction; 0 for one run. */
  spread: number;
  runs: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function summarize(values: readonly number[]): Summary {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, spread: Number.NaN, runs: 0 };
  const m = median(finite);
  const min = Math.min(...finite);
  const max = Math.max(...finite);
  return { median: m, min, max, spread: m === 0 ? 0 : (max - min) / 2 / Math.abs(m), runs: finite.length };
}

/** 1234567 -> "1.23M", 12345 -> "12.3k". */
export function si(n: number, digits = 3): string {
  if (!Number.isFinite(n)) return 'n/a';
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toPrecision(digits)}G`;
  if (a >= 1e6) return `${(n / 1e6).toPrecision(digits)}M`;
  if (a >= 1e3) return `${(n / 1e3).toPrecision(digits)}k`;
  return n.toPrecision(digits);
}

export function pct(fraction: number, digits = 1): string {
  return Number.isFinite(fraction) ? `${(fraction * 100).toFixed(digits)}%` : 'n/a';
}

/** "1.23M (1.10M..1.30M, +-8.1%, 5 runs)". */
export function describe(s: Summary, fmt: (n: number) => string = si): string {
  if (s.runs === 0) return 'n/a';
  return `${fmt(s.median)} (${fmt(s.min)}..${fmt(s.max)}, +-${pct(s.spread)}, ${s.runs} runs)`;
}

/** Rounds for the JSON line: 4 significant digits, null when not a finite number. */
export function num(n: number | null | undefined, digits = 4): number | null {
  if (n === null || n === undefined || !Number.isFinite(n)) return null;
  return Number(n.toPrecision(digits));
}
