// Durations and sizes as the Collector writes them: "500ms", "1s", "5m"; "64KiB", "1MiB", 1024.

const DURATION = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)$/;
const DURATION_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** JSON-schema fragment for a duration option; validated by the `duration` format. */
export const durationSchema = (description: string, defaultValue: string): Record<string, unknown> => ({
  description,
  default: defaultValue,
  anyOf: [{ type: 'string', format: 'duration' }, { const: 0 }],
});

/** JSON-schema fragment for a size option (bytes, or a string with KiB/MiB/GiB). */
export const sizeSchema = (description: string, defaultValue: string | number): Record<string, unknown> => ({
  description,
  default: defaultValue,
  anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string', format: 'size' }],
});

export function isDuration(value: string): boolean {
  return DURATION.test(value.trim()) || value.trim() === '0';
}

/** Milliseconds in a duration string. `0` (number or string) means zero. Throws on bad input. */
export function parseDuration(value: string | number): number {
  if (value === 0 || value === '0') return 0;
  if (typeof value !== 'string') throw new TypeError(`duration must be a string with a unit, got ${String(value)}`);
  const m = DURATION.exec(value.trim());
  if (!m) throw new TypeError(`invalid duration "${value}": expected a number and a unit (ns, us, ms, s, m, h)`);
  return Number(m[1]) * DURATION_MS[m[2]!]!;
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB)?$/;
const SIZE_BYTES: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, KB: 1e3, MB: 1e6, GB: 1e9 };

export function isSize(value: string): boolean {
  return SIZE.test(value.trim());
}

/** Bytes in a size (number of bytes, or "64KiB" style). Throws on bad input. */
export function parseSize(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) throw new TypeError(`invalid size ${value}`);
    return value;
  }
  const m = SIZE.exec(value.trim());
  if (!m) throw new TypeError(`invalid size "${value}": expected bytes or a number with KiB, MiB or GiB`);
  return Math.floor(Number(m[1]) * SIZE_BYTES[m[2] ?? 'B']!);
}
