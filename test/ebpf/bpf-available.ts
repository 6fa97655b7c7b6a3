// Whether this machine can run the real-kernel eBPF tests. Under CI=true a missing capability is
// a failure, not a skip: the suite must really run there.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { it } from 'vitest';
import { readCapabilities } from '../../src/receivers/ebpf/libbpf/host.js';

export interface BpfAvailability {
  ok: boolean;
  reason: string;
}

export function bpfAvailability(): BpfAvailability {
  const objects = fileURLToPath(new URL('../../bpf/out/tcp.bpf.o', import.meta.url));
  if (process.platform !== 'linux') return { ok: false, reason: 'not Linux' };
  if (!existsSync('/sys/kernel/btf/vmlinux')) return { ok: false, reason: 'kernel has no BTF' };
  const caps = readCapabilities();
  if (!caps.CAP_SYS_ADMIN && !(caps.CAP_BPF && caps.CAP_PERFMON)) return { ok: false, reason: 'no CAP_BPF/CAP_PERFMON or CAP_SYS_ADMIN (run as root)' };
  if (!existsSync(objects)) return { ok: false, reason: 'bpf/out/tcp.bpf.o missing: run npm run build:bpf' };
  return { ok: true, reason: '' };
}

/**
 * Call inside describe(): adds a test that fails under CI=true when BPF is unavailable
 * (and is skipped elsewhere), and returns the availability for it.runIf().
 */
export function requireBpf(): BpfAvailability {
  const a = bpfAvailability();
  if (!a.ok) {
    if (process.env.CI === 'true') {
      it('has BPF available (required under CI=true)', () => {
        throw new Error(`eBPF tests cannot run: ${a.reason}`);
      });
    } else {
      it.skip(`eBPF unavailable: ${a.reason}`, () => {});
    }
  }
  return a;
}
