/** Deep-merges a user config over defaults: objects merge key by key, everything else replaces. */
export function mergeOverDefaults(defaults: unknown, user: unknown): unknown {
  if (user === undefined || user === null) return structuredClone(defaults);
  if (isPlainObject(defaults) && isPlainObject(user)) {
    const out: Record<string, unknown> = structuredClone(defaults);
    for (const [k, v] of Object.entries(user)) {
      // defineProperty, not assignment: a user key "__proto__" must stay a plain (unknown) key
      // that the schema rejects, not replace the object's prototype.
      const merged = Object.hasOwn(out, k) ? mergeOverDefaults(out[k], v) : v;
      Object.defineProperty(out, k, { value: merged, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return user;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** Freezes a config tree so components cannot change what they were given. */
export function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}
