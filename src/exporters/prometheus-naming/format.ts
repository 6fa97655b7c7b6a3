// Number formatting shared by the text exposition and the `le` label.

/** A sample value or bound as Prometheus writes it: `+Inf`, `-Inf`, `NaN`, else the shortest decimal. */
export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
