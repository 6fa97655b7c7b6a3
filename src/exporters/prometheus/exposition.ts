// Renders held series in the Prometheus text format 0.0.4, or OpenMetrics 1.0.0 when asked.
import { type Label, TARGET_INFO, formatNumber } from '../prometheus-naming/index.js';
import type { StoredFamily } from './series-store.js';

export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** True when the Accept header lists OpenMetrics (Prometheus' scraper does, with top priority). */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.trim().split(';').map((s) => s.trim());
    if (type !== 'application/openmetrics-text') continue;
    const q = params.find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string, openMetrics: boolean): string {
  const s = v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return openMetrics ? s.replace(/"/g, '\\"') : s;
}

function labelText(labels: readonly Label[], extra?: Label): string {
  if (labels.length === 0 && !extra) return '';
  const parts: string[] = [];
  for (const l of labels) parts.push(`${l.name}="${escapeLabelValue(l.value)}"`);
  if (extra) parts.push(`${extra.name}="${escapeLabelValue(extra.value)}"`);
  return `{${parts.join(',')}}`;
}

export interface RenderOptions {
  openMetrics: boolean;
  sendTimestamps: boolean;
}

/** The exposition body for the given families (already sorted and expired by the store). */
export function renderExposition(families: readonly StoredFamily[], options: RenderOptions): string {
  const om = options.openMetrics;
  const out: string[] = [];
  for (const f of families) {
    // OpenMetrics names a counter family without `_total` and target_info as an `info` family.
    let familyName = f.name;
    let type: string = f.type;
    if (om && f.type === 'counter' && familyName.endsWith('_total')) familyName = familyName.slice(0, -'_total'.length);
    if (om && f.name === TARGET_INFO) {
      familyName = 'target';
      type = 'info';
    }
    if (f.help) out.push(`# HELP ${familyName} ${escapeHelp(f.help, om)}`);
    out.push(`# TYPE ${familyName} ${type}`);
    if (om && f.unit && familyName.endsWith(`_${f.unit}`)) out.push(`# UNIT ${familyName} ${f.unit}`);
    for (const s of f.series.values()) {
      const ts = options.sendTimestamps ? ` ${om ? formatNumber(s.timestampMs / 1000) : String(s.timestampMs)}` : '';
      const h = s.histogram;
      if (f.type === 'histogram' && h) {
        for (let i = 0; i < h.bounds.length; i++) {
          out.push(`${f.name}_bucket${labelText(s.labels, { name: 'le', value: formatNumber(h.bounds[i]!) })} ${h.cumulativeCounts[i]}${ts}`);
        }
        out.push(`${f.name}_bucket${labelText(s.labels, { name: 'le', value: '+Inf' })} ${h.count}${ts}`);
        if (h.sum !== undefined) out.push(`${f.name}_sum${labelText(s.labels)} ${formatNumber(h.sum)}${ts}`);
        out.push(`${f.name}_count${labelText(s.labels)} ${h.count}${ts}`);
      } else {
        out.push(`${f.name}${labelText(s.labels)} ${formatNumber(s.value)}${ts}`);
      }
    }
  }
  if (om) out.push('# EOF');
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}
