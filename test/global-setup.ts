import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Tests that spawn bin/sonde run the compiled dist/. `npm test` compiles (and fails on type
// errors) before vitest starts; this recompiles for direct `npx vitest` runs during development,
// where a type error elsewhere in the tree should not stop unrelated tests.
export default function setup(): void {
  if (process.env.SONDE_TEST_BUILT === '1') return;
  const root = fileURLToPath(new URL('..', import.meta.url));
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) console.warn(`global-setup: tsc reported errors (dist/ still emitted):\n${r.stdout.slice(0, 2000)}`);
}
