// Reading the file exporter's output (OTLP/JSON, one export request per line) in the eBPF tests.

export interface OtlpKv {
  key: string;
  value: Record<string, unknown>;
}
export const attrs = (kvs: OtlpKv[] = []): Record<string, unknown> => Object.fromEntries(kvs.map((a) => [a.key, Object.values(a.value)[0]]));
export const num = (v: unknown): number => Number(v);

export interface Point {
  res: Record<string, unknown>;
  name: string;
  a: Record<string, unknown>;
  value?: number;
  count?: number;
  min?: number;
  max?: number;
}

/** Data points of the LAST line that holds metrics for `pid` (metrics are cumulative). */
export function lastPointsFor(fileText: string, pid: number): Point[] {
  let last: Point[] = [];
  for (const line of fileText.trim().split('\n')) {
    if (!line) continue;
    const req = JSON.parse(line);
    const pts: Point[] = [];
    for (const rm of req.resourceMetrics ?? []) {
      const res = attrs(rm.resource.attributes);
      if (num(res['process.pid']) !== pid) continue;
      for (const sm of rm.scopeMetrics)
        for (const m of sm.metrics) {
          for (const p of m.sum?.dataPoints ?? []) pts.push({ res, name: m.name, a: attrs(p.attributes), value: num(p.asInt ?? p.asDouble) });
          for (const p of m.histogram?.dataPoints ?? []) pts.push({ res, name: m.name, a: attrs(p.attributes), count: num(p.count), min: p.min, max: p.max });
        }
    }
    if (pts.length > 0) last = pts;
  }
  return last;
}
