export type Severity = 'error' | 'warning';

/** One finding about a config file, located so an editor can jump to it. */
export interface ConfigProblem {
  severity: Severity;
  /** Dotted key path, e.g. `exporters.otlp.sending_queue.queue_size`. */
  path: string;
  message: string;
  file: string;
  line: number;
  col: number;
}

export function formatProblem(p: ConfigProblem): string {
  const where = `${p.file}:${p.line}:${p.col}`;
  return `${where}: ${p.severity}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

/** Keys containing dots or slashes stay readable: `receivers.otlp/in.protocols`. */
export function joinPath(segments: readonly (string | number)[]): string {
  return segments.map(String).join('.');
}

/**
 * The inverse of joinPath for paths written by hand: `http.routes[0]` and `http.routes.0` both
 * give ['http', 'routes', 0]; '' gives [].
 */
export function splitPath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const part of path.split('.')) {
    if (part === '') continue;
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) {
      out.push(part);
      continue;
    }
    if (m[1]) out.push(/^\d+$/.test(m[1]) ? Number(m[1]) : m[1]);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}
