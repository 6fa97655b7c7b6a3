// Writes one benchmark's section of docs/benchmarks.md, leaving every other section (including
// the ones other areas own, e.g. "Kubernetes metadata cache" and "Soak") exactly as they are.
import { existsSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

const PREAMBLE = `# Benchmarks

Measured by the scripts in \`bench/\`; each section says the command that produced it and the
machine it ran on. Every figure is the median of repeated runs with its spread (min..max and the
half-range relative to the median): the development machines are small shared VMs, so single
runs are noisy. Where a physical limit or a peer exists, figures are ratios measured side by side
in the same run.

`;

/** Replaces (or appends) the section starting with `## ${title}` up to the next `## ` heading. */
export function writeSection(title: string, body: string, file = join(repoRoot(), 'docs', 'benchmarks.md')): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : PREAMBLE;
  const heading = `## ${title}`;
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  const section = `${heading}\n\n${body.trim()}\n`;
  let out: string;
  if (start < 0) {
    out = `${text.replace(/\n*$/, '\n')}\n${section}`;
  } else {
    let end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
    if (end < 0) end = lines.length;
    const before = lines.slice(0, start).join('\n');
    const after = lines.slice(end).join('\n');
    out = `${before}${before ? '\n' : ''}${section}${after ? `\n${after}` : ''}`;
  }
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, out.replace(/\n*$/, '\n'));
  renameSync(tmp, file);
}
