// The committed BPF objects are what users run without a compiler (`npm ci && ./bin/sonde run`):
// they must be exactly what the committed sources build. bpf/build.sh is reproducible (no checkout
// path in the objects), so a fresh build into a temporary copy of bpf/ must give the same bytes.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

function committed(path: string): Buffer | undefined {
  try {
    // safe.directory: a checkout owned by another user than root is still read, not refused.
    return execFileSync('git', ['-c', 'safe.directory=*', '-C', REPO, 'show', `HEAD:${path}`], { maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined; // not a git checkout (a tarball): nothing to compare with
  }
}

describe('committed BPF objects', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sonde-bpf-build-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('are byte for byte what bpf/build.sh builds from the committed sources', () => {
    const copy = join(dir, 'some', 'other', 'path', 'bpf');
    cpSync(join(REPO, 'bpf'), copy, { recursive: true, filter: (src) => !src.includes(`${join('bpf', 'out')}`) });
    // The committed sources, not whatever the working tree holds.
    for (const name of readdirSync(copy).filter((n) => /\.(c|h)$/.test(n))) {
      const source = committed(`bpf/${name}`);
      if (source) writeFileSync(join(copy, name), source);
    }
    execFileSync('bash', [join(copy, 'build.sh')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const objects = readdirSync(join(copy, 'out')).filter((n) => n.endsWith('.bpf.o'));
    expect(objects.length).toBeGreaterThanOrEqual(2);
    let compared = 0;
    for (const name of objects) {
      const want = committed(`bpf/out/${name}`);
      if (!want) continue;
      compared++;
      expect(readFileSync(join(copy, 'out', name)).equals(want), `bpf/out/${name} differs from a fresh build of the committed sources: run npm run build:bpf and commit`).toBe(true);
    }
    // Outside a git checkout there is nothing to compare with; CI runs on one and must compare every object.
    if (process.env.CI === 'true') expect(compared, 'objects compared with their committed bytes (git show HEAD:bpf/out/...)').toBe(objects.length);
  }, 120_000);
});
