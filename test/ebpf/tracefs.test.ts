// tracefs handling in a private mount namespace (the host's mount is never touched): Sonde mounts
// tracefs itself when it may, and otherwise says how with SONDE_BPF_TRACEFS_NOT_MOUNTED.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { requireBpf } from './bpf-available.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const CHECK = `
  const h = await import('./dist/receivers/ebpf/libbpf/host.js');
  const out = { before: h.tracefsMounted() };
  try { out.mountedByUs = h.ensureTracefs(); out.after = h.tracefsMounted(); } catch (e) { out.code = e.code; out.hint = e.hint; }
  process.stdout.write(JSON.stringify(out));
`;

function inPrivateNamespace(dropCaps: boolean): Record<string, unknown> {
  const node = `${dropCaps ? 'setpriv --bounding-set -all --inh-caps -all --ambient-caps -all ' : ''}"${process.execPath}" --input-type=module -e "$CHECK"`;
  const out = execFileSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `umount /sys/kernel/tracing 2>/dev/null; ${node}`], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, CHECK },
  });
  return JSON.parse(out);
}

describe('tracefs (private mount namespace)', () => {
  const bpf = requireBpf();

  it.runIf(bpf.ok)('is mounted by Sonde when it runs as root', () => {
    expect(inPrivateNamespace(false)).toEqual({ before: false, mountedByUs: true, after: true });
  });

  it.runIf(bpf.ok)('without CAP_SYS_ADMIN: SONDE_BPF_TRACEFS_NOT_MOUNTED with the command to run', () => {
    const r = inPrivateNamespace(true);
    expect(r).toMatchObject({ before: false, code: 'SONDE_BPF_TRACEFS_NOT_MOUNTED' });
    expect(r.hint).toContain('mount -t tracefs tracefs /sys/kernel/tracing');
  });
});
