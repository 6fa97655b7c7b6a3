// The Dockerfile cannot be built here (no container engine), so its wiring is checked against the
// repository: every COPY source exists and gets past the .dockerignore, the runtime image is the
// Debian-based Node 20 image with libbpf from Debian, it runs non-root by default, and its entry
// point is the path the systemd install uses (which test/deploy/systemd-unit.test.ts runs).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './tools.js';

const DOCKERFILE = join(REPO, 'deploy/container/Dockerfile');
const text = readFileSync(DOCKERFILE, 'utf8');
// Instructions with their continuation lines joined.
const instructions = text
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const stages = instructions.reduce<string[][]>((acc, line) => {
  if (/^FROM\s/i.test(line)) acc.push([]);
  acc.at(-1)?.push(line);
  return acc;
}, []);

/** Whether `path` (relative to the context) survives the allow-list style .dockerignore. */
function included(path: string): boolean {
  const rules = readFileSync(`${DOCKERFILE}.dockerignore`, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  let keep = true;
  for (const rule of rules) {
    const negate = rule.startsWith('!');
    const pattern = negate ? rule.slice(1) : rule;
    const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*/g, '\u0000').replace(/\*/g, '[^/]*').replace(/\u0000/g, '.*')}(/.*)?$`);
    if (re.test(path)) keep = negate;
  }
  return keep;
}

describe('deploy/container/Dockerfile', () => {
  it('has three stages on node:20-bookworm-slim', () => {
    expect(stages.map((s) => s[0])).toEqual(['FROM node:20-bookworm-slim AS build', 'FROM node:20-bookworm-slim AS deps', 'FROM node:20-bookworm-slim']);
  });

  it('copies only files that exist in the repository and pass the .dockerignore', () => {
    const copies = instructions.filter((l) => /^COPY\s/i.test(l) && !/--from=/.test(l));
    expect(copies.length).toBeGreaterThan(3);
    for (const line of copies) {
      const parts = line.split(/\s+/).slice(1).filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(0, -1)) {
        expect(existsSync(join(REPO, src)), `${src} exists`).toBe(true);
        expect(included(src), `${src} not excluded by Dockerfile.dockerignore`).toBe(true);
      }
    }
    // The compiled BPF objects the runtime loads are in the context.
    for (const o of ['tcp', 'http', 'probe']) expect(existsSync(join(REPO, `bpf/out/${o}.bpf.o`))).toBe(true);
    expect(included('node_modules/koffi/package.json')).toBe(false);
    expect(included('dist/cli/main.js')).toBe(false);
  });

  it('installs production dependencies without dev ones and libbpf1 from Debian in the runtime stage', () => {
    expect(stages[1]!.some((l) => /npm ci --omit=dev/.test(l))).toBe(true);
    const runtime = stages[2]!;
    expect(runtime.some((l) => /apt-get install -y --no-install-recommends libbpf1\b/.test(l))).toBe(true);
    expect(runtime.some((l) => /^COPY --from=deps \/opt\/sonde\/node_modules /.test(l))).toBe(true);
    expect(runtime.some((l) => /^COPY --from=build \/src\/dist /.test(l))).toBe(true);
  });

  it('runs non-root by default, with the systemd install layout as entry point', () => {
    const runtime = stages[2]!;
    const user = runtime.filter((l) => /^USER\s/.test(l)).at(-1);
    expect(user).toBe('USER 10001:10001');
    expect(runtime).toContain('WORKDIR /opt/sonde');
    expect(runtime).toContain('ENTRYPOINT ["/opt/sonde/bin/sonde"]');
    expect(runtime).toContain('CMD ["run", "--config", "/etc/sonde/pipeline.config.yaml"]');
    // The sidecar manifest runs the image as this same uid.
    const sidecar = readFileSync(join(REPO, 'deploy/kubernetes/sidecar/deployment.yaml'), 'utf8');
    expect(sidecar).toMatch(/runAsUser: 10001/);
  });
});
