import { readFileSync, readlinkSync } from 'node:fs';
import { arch, hostname, platform } from 'node:os';
import type { Attributes } from '../../pdata/types.js';

/** OTEL_RESOURCE_ATTRIBUTES: `key=value,key2=value2`, values percent-encoded. Malformed pairs are skipped. */
export function detectEnv(env: NodeJS.ProcessEnv = process.env): Attributes {
  const out: Attributes = {};
  const raw = env.OTEL_RESOURCE_ATTRIBUTES;
  if (!raw) return out;
  for (const pair of raw.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const key = pair.slice(0, eq).trim();
    try {
      out[key] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      // Bad percent-encoding: skip the pair rather than guess.
    }
  }
  return out;
}

const OS_TYPE: Record<string, string> = { linux: 'linux', darwin: 'darwin', win32: 'windows', freebsd: 'freebsd', openbsd: 'openbsd', netbsd: 'netbsd', sunos: 'solaris', aix: 'aix' };
const HOST_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm32', ia32: 'x86', ppc64: 'ppc64', s390x: 's390x' };

function machineId(files: readonly string[]): string | undefined {
  for (const f of files) {
    try {
      const id = readFileSync(f, 'utf8').trim();
      if (id) return id;
    } catch {
      // try the next location
    }
  }
  return undefined;
}

export function detectSystem(machineIdFiles: readonly string[] = ['/etc/machine-id', '/var/lib/dbus/machine-id']): Attributes {
  const out: Attributes = { 'host.name': hostname(), 'os.type': OS_TYPE[platform()] ?? platform() };
  const id = machineId(machineIdFiles);
  if (id) out['host.id'] = id;
  const a = HOST_ARCH[arch()];
  if (a) out['host.arch'] = a;
  return out;
}

/** Process attributes of `pid` from `<procRoot>/<pid>`; empty when the process is gone or unreadable. */
export function detectProcess(procRoot: string, pid: number, includeArgs: boolean): Attributes {
  const out: Attributes = {};
  const dir = `${procRoot}/${pid}`;
  let argv: string[] = [];
  try {
    argv = readFileSync(`${dir}/cmdline`, 'utf8').split('\0');
    if (argv.at(-1) === '') argv.pop();
  } catch {
    return out;
  }
  try {
    const exe = readlinkSync(`${dir}/exe`).replace(/ \(deleted\)$/, '');
    out['process.executable.path'] = exe;
    out['process.executable.name'] = exe.slice(exe.lastIndexOf('/') + 1);
  } catch {
    // exe is unreadable for other users' processes without privilege: fall back to comm.
    try {
      const comm = readFileSync(`${dir}/comm`, 'utf8').trim();
      if (comm) out['process.executable.name'] = comm;
    } catch {
      // gone
    }
  }
  if (argv.length > 0) {
    out['process.command'] = argv[0]!;
    if (includeArgs) out['process.command_args'] = argv;
  }
  return out;
}
