// Attribute maps -> Prometheus label sets: sanitized names, string values, sorted by name.
import type { AttributeValue, Attributes } from '../../pdata/types.js';
import { prometheusLabelName } from './metric-name.js';

export interface Label {
  name: string;
  value: string;
}

/** The string a label carries for an attribute value (arrays and maps as JSON, bytes as base64). */
export function labelValue(value: AttributeValue): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  return JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v));
}

/**
 * Adds attributes to a label map under their Prometheus names. Two keys that sanitize to the same
 * name (`a.b` and `a_b`) share one label, their values joined with `;` in key order, as the
 * Collector does. Existing entries win when `overwrite` is false.
 */
export function addAttributeLabels(into: Map<string, string>, attributes: Attributes, overwrite = true): void {
  const keys = Object.keys(attributes).sort();
  const added = new Map<string, string>();
  for (const key of keys) {
    const name = prometheusLabelName(key);
    const value = labelValue(attributes[key]!);
    const prev = added.get(name);
    added.set(name, prev === undefined ? value : `${prev};${value}`);
  }
  for (const [name, value] of added) {
    if (!overwrite && into.has(name)) continue;
    into.set(name, value);
  }
}

/** Labels sorted by name (the order remote write requires and the text format keeps stable). */
export function sortedLabels(map: Map<string, string>): Label[] {
  const out: Label[] = [];
  for (const [name, value] of map) if (value !== '') out.push({ name, value });
  out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return out;
}

/** A stable identity for a label set (already sorted). */
export function labelsKey(name: string, labels: readonly Label[]): string {
  let key = name;
  for (const l of labels) key += `\u0000${l.name}\u0001${l.value}`;
  return key;
}
