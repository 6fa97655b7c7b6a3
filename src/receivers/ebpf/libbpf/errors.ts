// Typed errors of the libbpf layer: stable codes (documented in docs/troubleshooting.md) and a hint.
import { SondeError } from '../../../errors/index.js';
import { ERRNO_NAMES } from './errno.js';
import { pathExists, readCapabilities } from './host.js';

export type BpfErrorCode =
  | 'SONDE_BPF_NO_BTF'
  | 'SONDE_BPF_NO_PRIVILEGE'
  | 'SONDE_BPF_TRACEFS_NOT_MOUNTED'
  | 'SONDE_BPF_LOAD_FAILED'
  | 'SONDE_BPF_ATTACH_FAILED'
  | 'SONDE_BPF_NOT_SUPPORTED'
  | 'SONDE_BPF_LIBBPF_MISSING'
  | 'SONDE_BPF_MAP_FAILED';

export const BPF_HINTS: Record<BpfErrorCode, string> = {
  SONDE_BPF_NO_BTF:
    'This kernel does not expose BTF (/sys/kernel/btf/vmlinux). Use a kernel built with CONFIG_DEBUG_INFO_BTF=y (most distributions since 2020).',
  SONDE_BPF_NO_PRIVILEGE:
    'Run Sonde as root, or grant CAP_BPF and CAP_PERFMON, plus CAP_DAC_READ_SEARCH when not running as uid 0 (tracefs is root-only) (CAP_SYS_ADMIN on kernels before 5.8); deploy/systemd/sonde.service shows the ambient capabilities, and in Kubernetes add them to securityContext.capabilities.',
  SONDE_BPF_TRACEFS_NOT_MOUNTED:
    'Mount tracefs: `mount -t tracefs tracefs /sys/kernel/tracing` (as root; in a container mount the host /sys/kernel/tracing). Sonde mounts it itself when it runs as root.',
  SONDE_BPF_LOAD_FAILED:
    'The kernel refused the BPF program; the verifier log is in Sonde\'s debug log (service.telemetry.logs.level: debug). Run `sonde doctor` to see what this kernel supports.',
  SONDE_BPF_ATTACH_FAILED:
    'The hook could not be attached: the kernel may lack it (see `sonde doctor`), or tracefs/perf events are restricted.',
  SONDE_BPF_NOT_SUPPORTED:
    'This kernel lacks the feature; `sonde doctor` lists which hooks and features are available here.',
  SONDE_BPF_LIBBPF_MISSING: 'Install libbpf 1.1 or newer (Debian/Ubuntu: apt-get install libbpf1).',
  SONDE_BPF_MAP_FAILED: 'A BPF map operation failed; check Sonde\'s debug log and `sonde doctor`.',
};

export function errnoName(errno: number): string {
  const e = Math.abs(errno);
  return ERRNO_NAMES[e] ?? `errno ${e}`;
}

export function bpfError(code: BpfErrorCode, message: string, cause?: unknown, hint?: string): SondeError {
  return new SondeError(code, message, { hint: hint ?? BPF_HINTS[code], cause });
}

const EPERM = 1;
const EACCES = 13;
const ENOENT = 2;
const EOPNOTSUPP = 95;
const ENOTSUPP = 524;
const EINVAL = 22;

/** Whether the effective capabilities allow loading tracing BPF programs. */
export function hasBpfPrivilege(): boolean {
  const caps = readCapabilities();
  return caps.CAP_SYS_ADMIN || (caps.CAP_BPF && caps.CAP_PERFMON);
}

/** Classifies a failed bpf_object__load. */
export function loadError(object: string, errno: number): SondeError {
  const e = Math.abs(errno);
  if (!pathExists('/sys/kernel/btf/vmlinux')) {
    return bpfError('SONDE_BPF_NO_BTF', `loading BPF object ${object} failed (${errnoName(e)}) and this kernel has no BTF`);
  }
  if ((e === EPERM || e === EACCES) && !hasBpfPrivilege()) {
    return bpfError('SONDE_BPF_NO_PRIVILEGE', `loading BPF object ${object} was refused (${errnoName(e)}): missing capabilities`);
  }
  if (e === EOPNOTSUPP || e === ENOTSUPP) {
    return bpfError('SONDE_BPF_NOT_SUPPORTED', `loading BPF object ${object} failed: ${errnoName(e)}`);
  }
  return bpfError('SONDE_BPF_LOAD_FAILED', `loading BPF object ${object} failed: ${errnoName(e)}`);
}

/** Classifies a failed attach. `tracefs` says whether the hook needs tracefs (tracepoints, legacy kprobes). */
export function attachError(what: string, errno: number, tracefs: boolean): SondeError {
  const e = Math.abs(errno);
  if (tracefs && e === ENOENT && !pathExists('/sys/kernel/tracing/events')) {
    return bpfError('SONDE_BPF_TRACEFS_NOT_MOUNTED', `attaching ${what} failed: tracefs is not mounted at /sys/kernel/tracing`);
  }
  if ((e === EPERM || e === EACCES) && !hasBpfPrivilege()) {
    return bpfError('SONDE_BPF_NO_PRIVILEGE', `attaching ${what} was refused (${errnoName(e)}): missing capabilities`);
  }
  if (e === EOPNOTSUPP || e === ENOTSUPP || e === EINVAL || e === ENOENT) {
    return bpfError('SONDE_BPF_ATTACH_FAILED', `attaching ${what} failed: ${errnoName(e)} (the kernel may not support this hook)`);
  }
  return bpfError('SONDE_BPF_ATTACH_FAILED', `attaching ${what} failed: ${errnoName(e)}`);
}
