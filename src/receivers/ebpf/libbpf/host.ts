// What the host offers for BPF: capabilities, BTF, tracefs, bpffs. Plain reads of /proc and /sys.
import { readFileSync, statSync } from 'node:fs';
import { SondeError } from '../../../errors/index.js';
import { getLibc } from './bindings.js';

// CAP_DAC_READ_SEARCH: tracefs is root-only (0700) on many hosts; a non-root Sonde needs it to
// resolve tracepoint ids. CAP_NET_ADMIN is listed for attach types some kernels gate on it.
export const CAPABILITY_BITS = { CAP_BPF: 39, CAP_PERFMON: 38, CAP_DAC_READ_SEARCH: 2, CAP_NET_ADMIN: 12, CAP_SYS_ADMIN: 21 } as const;
export type CapabilityName = keyof typeof CAPABILITY_BITS;

export const TRACEFS_PATH = '/sys/kernel/tracing';
export const BPFFS_PATH = '/sys/fs/bpf';
export const BTF_PATH = '/sys/kernel/btf/vmlinux';

/** Effective capabilities of this process, from CapEff in /proc/self/status. */
export function readCapabilities(status?: string): Record<CapabilityName, boolean> {
  let text = status;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/status', 'utf8');
    } catch {
      text = '';
    }
  }
  const m = /^CapEff:\s*([0-9a-fA-F]+)/m.exec(text);
  const eff = m ? BigInt(`0x${m[1]}`) : 0n;
  const out = {} as Record<CapabilityName, boolean>;
  for (const [name, bit] of Object.entries(CAPABILITY_BITS)) out[name as CapabilityName] = ((eff >> BigInt(bit)) & 1n) === 1n;
  return out;
}

/**
 * True when `path` exists. stat(2), not access(2) as fs.existsSync uses: access checks with the
 * real uid and ignores CAP_DAC_READ_SEARCH, so a non-root Sonde with that capability would be
 * told that tracefs files it can read are missing.
 */
export function pathExists(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}

export function hasBtf(): boolean {
  return pathExists(BTF_PATH);
}

function mountedFs(type: string, path: string): boolean {
  try {
    return readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .some((line) => {
        const f = line.split(' ');
        return f[1] === path && f[2] === type;
      });
  } catch {
    return false;
  }
}

export function tracefsMounted(): boolean {
  return pathExists(`${TRACEFS_PATH}/events`) || mountedFs('tracefs', TRACEFS_PATH);
}

export function bpffsMounted(): boolean {
  return mountedFs('bpf', BPFFS_PATH);
}

/**
 * Makes sure tracefs is mounted (libbpf resolves tracepoint ids through it). Mounts it when we
 * may (CAP_SYS_ADMIN); otherwise throws SONDE_BPF_TRACEFS_NOT_MOUNTED saying how.
 * Returns true when this call mounted it.
 */
export function ensureTracefs(): boolean {
  if (tracefsMounted()) return false;
  if (!readCapabilities().CAP_SYS_ADMIN) {
    throw new SondeError('SONDE_BPF_TRACEFS_NOT_MOUNTED', `tracefs is not mounted at ${TRACEFS_PATH} and Sonde may not mount it (no CAP_SYS_ADMIN)`, {
      hint: `Mount it as root: mount -t tracefs tracefs ${TRACEFS_PATH}`,
    });
  }
  const rc = getLibc().mount('tracefs', TRACEFS_PATH, 'tracefs', 0, null) as number;
  if (rc !== 0 && !tracefsMounted()) {
    throw new SondeError('SONDE_BPF_TRACEFS_NOT_MOUNTED', `mounting tracefs at ${TRACEFS_PATH} failed`, {
      hint: `Mount it by hand as root: mount -t tracefs tracefs ${TRACEFS_PATH}`,
    });
  }
  return true;
}
