import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FACTORIES } from '../../src/components.js';
import { renderConfigReference } from '../../src/docs/config-reference.js';
import { ERROR_CODES } from '../../src/errors/codes.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (p: string): string => readFileSync(join(root, p), 'utf8');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('docs stay true to the code', () => {
  it('docs/configuration.md is exactly what the schemas generate (run `npm run docs:config`)', () => {
    expect(read('docs/configuration.md')).toBe(renderConfigReference(FACTORIES));
  });

  it('every error code used in src/ is registered, and has exactly one troubleshooting entry', () => {
    const used = new Set<string>();
    for (const f of sourceFiles(join(root, 'src'))) {
      for (const m of readFileSync(f, 'utf8').matchAll(/['"`](SONDE_[A-Z0-9_]+)['"`]/g)) used.add(m[1]!);
    }
    const registered = new Set(Object.keys(ERROR_CODES));
    expect([...used].filter((c) => !registered.has(c)).sort()).toEqual([]);
    const doc = read('docs/troubleshooting.md');
    const headings = [...doc.matchAll(/^## (SONDE_[A-Z0-9_]+)\s*$/gm)].map((m) => m[1]!);
    expect(headings.filter((h, i) => headings.indexOf(h) !== i)).toEqual([]);
    expect([...registered].filter((c) => !headings.includes(c)).sort()).toEqual([]);
    expect(headings.filter((h) => !registered.has(h)).sort()).toEqual([]);
  });
});
