// OpenTelemetry metric name + unit + kind -> Prometheus metric name, following the OpenTelemetry
// "Prometheus and OpenMetrics compatibility" rules: invalid characters become `_`, the unit
// becomes a word suffix (`s` -> `_seconds`, `By` -> `_bytes`), `{annotations}` are dropped,
// monotonic counters end in `_total`, and a suffix already present is not added twice.

/** Unit words for the UCUM units OpenTelemetry instruments use. */
const UNIT_WORDS: Readonly<Record<string, string>> = {
  d: 'days',
  h: 'hours',
  min: 'minutes',
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  GiBy: 'gibibytes',
  TiBy: 'tebibytes',
  KBy: 'kilobytes',
  MBy: 'megabytes',
  GBy: 'gigabytes',
  TBy: 'terabytes',
  bit: 'bits',
  m: 'meters',
  V: 'volts',
  A: 'amperes',
  J: 'joules',
  W: 'watts',
  g: 'grams',
  Cel: 'celsius',
  Hz: 'hertz',
  '%': 'percent',
};

/** The denominator of a `X/Y` unit: `By/s` -> `bytes_per_second`. */
const PER_UNIT_WORDS: Readonly<Record<string, string>> = {
  s: 'second',
  m: 'minute',
  h: 'hour',
  d: 'day',
  w: 'week',
  mo: 'month',
  y: 'year',
};

export type PrometheusKind = 'counter' | 'gauge' | 'histogram';

/** Word tokens of a name or unit: runs of characters valid in a Prometheus metric name, minus `_`. */
function tokens(text: string): string[] {
  return text.split(/[^a-zA-Z0-9:]+/).filter((t) => t.length > 0);
}

/**
 * The unit as Prometheus suffix words (`seconds`, `bytes_per_second`), or '' when the unit carries
 * no suffix (empty, `1` outside gauges, or only `{annotation}`).
 */
export function unitSuffix(unit: string | undefined, kind: PrometheusKind): string {
  if (!unit) return '';
  // `{connection}`, `{request}/s`: curly-brace annotations carry no unit.
  const stripped = unit.replace(/\{[^}]*\}/g, '').trim();
  if (stripped === '') return '';
  if (stripped === '1') return kind === 'gauge' ? 'ratio' : '';
  const slash = stripped.indexOf('/');
  const main = slash < 0 ? stripped : stripped.slice(0, slash);
  const per = slash < 0 ? '' : stripped.slice(slash + 1);
  const mainWords = main === '' || main === '1' ? '' : (UNIT_WORDS[main] ?? tokens(main).join('_'));
  const perWords = per === '' ? '' : (PER_UNIT_WORDS[per] ?? UNIT_WORDS[per] ?? tokens(per).join('_'));
  if (mainWords && perWords) return `${mainWords}_per_${perWords}`;
  if (perWords) return `per_${perWords}`;
  return mainWords;
}

/**
 * The Prometheus name of an OpenTelemetry metric. For counters the result ends in `_total`;
 * `namespace`, when set, is prepended with `_`.
 */
export function prometheusMetricName(name: string, unit: string | undefined, kind: PrometheusKind, namespace = ''): string {
  const parts = tokens(name);
  const isCounter = kind === 'counter';
  // `total` is re-added at the very end for counters, so a name already ending in it keeps one copy.
  if (isCounter) {
    while (parts.length > 0 && parts[parts.length - 1] === 'total') parts.pop();
  }
  const suffix = unitSuffix(unit, kind);
  if (suffix) {
    const suffixParts = suffix.split('_');
    const tail = parts.slice(parts.length - suffixParts.length).join('_');
    if (tail !== suffix) parts.push(...suffixParts);
  }
  if (isCounter) parts.push('total');
  if (namespace) parts.unshift(...tokens(namespace));
  let out = parts.join('_');
  if (out === '') out = '_';
  if (/^[0-9]/.test(out)) out = `_${out}`;
  return out;
}

/**
 * A Prometheus label name from an attribute key: invalid characters become `_`; a leading digit
 * gets a `key_` prefix; a leading `_` (reserved for Prometheus' own labels) gets a `key` prefix.
 */
export function prometheusLabelName(key: string): string {
  let out = key.replace(/[^a-zA-Z0-9_]/g, '_');
  if (out === '') return 'key_';
  if (/^[0-9]/.test(out)) out = `key_${out}`;
  else if (out.startsWith('_')) out = `key${out}`;
  return out;
}
