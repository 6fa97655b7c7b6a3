// Where the deployment tests find their tools (installed by scripts/setup-test-env.sh), and the
// rule for a missing one: a failing test under CI=true, a visible skip elsewhere.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { it } from 'vitest';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const TOOLS_DIR = process.env.SONDE_TEST_TOOLS ?? '/usr/local/lib/sonde-test-tools';
export const KUSTOMIZE = `${TOOLS_DIR}/bin/kustomize`;
export const SANDBOX = fileURLToPath(new URL('./sandbox.sh', import.meta.url));

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
}

export interface Need {
  what: string;
  ok: () => boolean;
}

export const needs = {
  kustomize: { what: `kustomize at ${KUSTOMIZE}`, ok: () => existsSync(KUSTOMIZE) },
  systemdAnalyze: { what: 'systemd-analyze (Debian package systemd)', ok: () => onPath('systemd-analyze') },
  nspawn: { what: 'systemd-nspawn (Debian package systemd-container)', ok: () => onPath('systemd-nspawn') },
  root: { what: 'root (namespaces, overlay mounts, setpriv)', ok: () => process.getuid?.() === 0 },
  sandboxTools: {
    what: 'unshare, nsenter, setpriv, findmnt (util-linux), ip (iproute2), curl',
    ok: () => ['unshare', 'nsenter', 'setpriv', 'findmnt', 'ip', 'curl'].every(onPath),
  },
  bpf: {
    what: 'BTF and bpf/out/*.bpf.o',
    ok: () => existsSync('/sys/kernel/btf/vmlinux') && existsSync(`${REPO}bpf/out/tcp.bpf.o`) && existsSync(`${REPO}bpf/out/http.bpf.o`),
  },
  dist: { what: 'dist/ (npx tsc -p tsconfig.json)', ok: () => existsSync(`${REPO}dist/cli/main.js`) },
} satisfies Record<string, Need>;

/**
 * Call inside describe(): when something is missing, adds a test that fails under CI=true (and is
 * skipped elsewhere, naming what is missing). Returns whether everything is there, for it.runIf().
 */
export function requireAll(...list: Need[]): boolean {
  const missing = list.filter((n) => !n.ok()).map((n) => n.what);
  if (missing.length === 0) return true;
  const msg = `missing: ${missing.join('; ')} (run scripts/setup-test-env.sh as root)`;
  if (process.env.CI === 'true') {
    it('has what the deployment tests need (required under CI=true)', () => {
      throw new Error(msg);
    });
  } else {
    it.skip(msg, () => {});
  }
  return false;
}

export function run(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 300_000, ...options });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
