// Locations the benchmarks use: the repository root, the git-ignored build cache, scratch space.
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';

/** The repository root (the directory holding package.json), found from this file's location. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bench'))) return dir;
    dir = resolve(dir, '..');
  }
  throw new Error('bench: repository root not found');
}

/** bench/.cache/<sub> (git-ignored): compiled helpers and cached builds. */
export function cacheDir(sub: string): string {
  const d = join(repoRoot(), 'bench', '.cache', sub);
  mkdirSync(d, { recursive: true });
  return d;
}
