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
