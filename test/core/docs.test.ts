import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FACTORIES } from '../../src/components.js';
import { renderConfigReference } from '../../src/docs/config-reference.js';
import { ERROR_CODES } from '../../src/errors/codes.js';
import { DOCTOR_FINDING_IDS } from '../../src/receivers/ebpf/doctor-findings.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (p: string): string => readFileSync(join(root, p), 'utf8');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/**
 * Every quoted `PREFIX_*` string in src/ is in `registered`, and docs/troubleshooting.md has
 * exactly one `## PREFIX_*` heading for each registered one, and none for anything else.
 */
function expectOneEntryEach(prefix: 'SONDE' | 'DOCTOR', registered: ReadonlySet<string>): void {
  const used = new Set<string>();
  const quoted = new RegExp(`['"\`](${prefix}_[A-Z0-9_]+)['"\`]`, 'g');
  for (const f of sourceFiles(join(root, 'src'))) {
    for (const m of readFileSync(f, 'utf8').matchAll(quoted)) used.add(m[1]!);
  }
  expect([...used].filter((c) => !registered.has(c)).sort()).toEqual([]);
  const doc = read('docs/troubleshooting.md');
  const headings = [...doc.matchAll(new RegExp(`^## (${prefix}_[A-Z0-9_]+)\\s*$`, 'gm'))].map((m) => m[1]!);
  expect(headings.filter((h, i) => headings.indexOf(h) !== i)).toEqual([]);
  expect([...registered].filter((c) => !headings.includes(c)).sort()).toEqual([]);
  expect(headings.filter((h) => !registered.has(h)).sort()).toEqual([]);
}

describe('docs stay true to the code', () => {
  it('docs/configuration.md is exactly what the schemas generate (run `npm run docs:config`)', () => {
    expect(read('docs/configuration.md')).toBe(renderConfigReference(FACTORIES));
  });

  it('every error code used in src/ is registered, and has exactly one troubleshooting entry', () => {
    expectOneEntryEach('SONDE', new Set(Object.keys(ERROR_CODES)));
  });

  it('every `sonde doctor` finding id has exactly one troubleshooting entry, in its own section, and vice versa', () => {
    const ids = new Set<string>(DOCTOR_FINDING_IDS);
    expect(ids.size).toBeGreaterThan(0);
    expectOneEntryEach('DOCTOR', ids);
    const doc = read('docs/troubleshooting.md');
    // Two sections: every DOCTOR_ entry under the doctor's heading, every SONDE_ entry under "Error codes".
    const sections = doc.split(/^(?=# )/m);
    const section = (title: string): string => sections.find((s) => s.startsWith(`# ${title}\n`)) ?? '';
    const inSection = (text: string, prefix: string): string[] => [...text.matchAll(new RegExp(`^## (${prefix}_[A-Z0-9_]+)\\s*$`, 'gm'))].map((m) => m[1]!);
    expect(inSection(section('sonde doctor findings'), 'DOCTOR').sort()).toEqual([...ids].sort());
    expect(inSection(section('Error codes'), 'SONDE').sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });
  it("every metric Sonde registers is in docs/metrics-and-spans.md's own-metrics table, with its type and labels", () => {
    const registered = new Map<string, { type: string; labels: string }>();
    const call = /(counter|gauge|histogram)(?:<[^>]*>)?\(\s*'(sonde_[a-z0-9_]+)',\s*(?:'(?:[^'\\]|\\.)*'|`[^`]*`)(?:,\s*\[([^\]]*)\])?/g;
    for (const f of sourceFiles(join(root, 'src'))) {
      for (const m of readFileSync(f, 'utf8').matchAll(call)) registered.set(m[2]!, { type: m[1]!, labels: (m[3] ?? '').replace(/['\s]/g, '') });
    }
    expect(registered.size).toBeGreaterThan(20);
    const doc = read('docs/metrics-and-spans.md');
    const section = doc.slice(doc.indexOf("## Sonde's own metrics"));
    const documented = new Map<string, { type: string; labels: string }>();
    for (const m of section.matchAll(/^\| `(sonde_[a-z0-9_]+)` \| (\w+) \| ([^|]*) \|/gm)) {
      documented.set(m[1]!, { type: m[2]!, labels: m[3]!.trim() === '-' ? '' : m[3]!.replace(/[`\s]/g, '') });
    }
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(registered));
  });
});
