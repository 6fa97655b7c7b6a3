import type { ComponentId } from './types.js';

const ID_PATTERN = /^([a-z][a-z0-9_]*)(?:\/([^\s/]+))?$/;

/** Parses `type` or `type/name`; returns undefined when the id is not of that form. */
export function parseComponentId(key: string): ComponentId | undefined {
  const m = ID_PATTERN.exec(key);
  if (!m) return undefined;
  return { type: m[1]!, name: m[2] ?? '', key };
}
