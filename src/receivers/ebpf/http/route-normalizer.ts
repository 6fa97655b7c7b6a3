// Turns a URL path into a low-cardinality http.route: configured patterns first ("/users/{id}",
// a trailing "*" matches the rest), then, if enabled, a heuristic that replaces id-like segments
// (numbers, UUIDs, long hex) with "{id}". Distinct routes are capped; past the cap every new
// route becomes ROUTE_OVERFLOW and is counted.

export const ROUTE_OVERFLOW = '_OTHER';
export const ID_PLACEHOLDER = '{id}';

export interface RouteNormalizerOptions {
  patterns: readonly string[];
  heuristic: boolean;
  maxRoutes: number;
  /** Called once per path that fell into the overflow route. */
  onOverflow?: () => void;
}

export interface RouteNormalizer {
  /** The route for a path, or undefined when no route is known (no pattern, heuristic off). */
  route(path: string): string | undefined;
  /** Distinct routes handed out so far (overflow excluded). */
  readonly size: number;
}

type Segment = { kind: 'literal'; text: string } | { kind: 'param' } | { kind: 'rest' };

interface CompiledPattern {
  route: string;
  segments: Segment[];
}

function splitPath(path: string): string[] {
  return path.split('/').slice(1);
}

export function compilePattern(pattern: string): CompiledPattern {
  if (!pattern.startsWith('/')) throw new TypeError(`route pattern "${pattern}" must start with "/"`);
  const parts = splitPath(pattern);
  const segments: Segment[] = parts.map((p, i) => {
    if (p === '*') {
      if (i !== parts.length - 1) throw new TypeError(`route pattern "${pattern}": "*" is only allowed as the last segment`);
      return { kind: 'rest' };
    }
    if (/^\{[^{}/]+\}$/.test(p)) return { kind: 'param' };
    if (p.includes('{') || p.includes('}')) throw new TypeError(`route pattern "${pattern}": a parameter must be a whole segment, like {id}`);
    return { kind: 'literal', text: p };
  });
  return { route: pattern, segments };
}

function matches(p: CompiledPattern, parts: string[]): boolean {
  const segs = p.segments;
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    if (s.kind === 'rest') return true;
    if (i >= parts.length) return false;
    const part = parts[i]!;
    if (s.kind === 'param') {
      if (part.length === 0) return false;
    } else if (s.text !== part) {
      return false;
    }
  }
  return parts.length === segs.length;
}

const DIGITS = /^\d+$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const LONG_HEX = /^[0-9a-fA-F]{16,}$/;

/** True for a path segment that looks like an identifier rather than a name. */
export function isIdSegment(segment: string): boolean {
  return DIGITS.test(segment) || UUID.test(segment) || (LONG_HEX.test(segment) && /\d/.test(segment));
}

export function heuristicRoute(path: string): string {
  const parts = splitPath(path);
  let changed = false;
  for (let i = 0; i < parts.length; i++) {
    if (isIdSegment(parts[i]!)) {
      parts[i] = ID_PLACEHOLDER;
      changed = true;
    }
  }
  return changed ? '/' + parts.join('/') : path;
}

export function createRouteNormalizer(options: RouteNormalizerOptions): RouteNormalizer {
  const compiled = options.patterns.map(compilePattern);
  const known = new Set<string>();
  // Small cache of path -> route for hot paths; bounded so unique paths cannot grow it forever.
  const cache = new Map<string, string | undefined>();
  const CACHE_MAX = 4096;

  function resolve(path: string): string | undefined {
    if (compiled.length > 0) {
      const parts = splitPath(path);
      for (const p of compiled) if (matches(p, parts)) return p.route;
    }
    if (!options.heuristic) return undefined;
    if (path === '*') return undefined; // OPTIONS *
    return heuristicRoute(path);
  }

  return {
    route(path: string): string | undefined {
      let route: string | undefined;
      if (cache.has(path)) {
        route = cache.get(path);
      } else {
        route = resolve(path);
        if (cache.size >= CACHE_MAX) cache.clear();
        cache.set(path, route);
      }
      if (route === undefined) return undefined;
      if (known.has(route)) return route;
      if (known.size >= options.maxRoutes) {
        options.onOverflow?.();
        return ROUTE_OVERFLOW;
      }
      known.add(route);
      return route;
    },
    get size() {
      return known.size;
    },
  };
}
