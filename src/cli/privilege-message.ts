// What `sonde run` prints when the kernel refused the eBPF receiver's programs: the capabilities
// this process lacks, by name, read from its own CapEff (the same process that was refused).
import { readCapabilities, type CapabilityName } from '../receivers/ebpf/libbpf/host.js';

/**
 * Capabilities missing for tracing BPF: CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN, which covers
 * both), plus CAP_DAC_READ_SEARCH for a non-root uid (tracefs is root-only on most hosts).
 */
export function missingBpfCapabilities(caps: Readonly<Record<CapabilityName, boolean>>, uid: number): CapabilityName[] {
  const missing: CapabilityName[] = caps.CAP_SYS_ADMIN ? [] : (['CAP_BPF', 'CAP_PERFMON'] as const).filter((c) => !caps[c]);
  if (uid !== 0 && !caps.CAP_DAC_READ_SEARCH) missing.push('CAP_DAC_READ_SEARCH');
  return missing;
}

/** The lines printed to stderr, before the error itself. */
export function privilegeMessage(
  caps: Readonly<Record<CapabilityName, boolean>> = readCapabilities(),
  uid: number = process.getuid?.() ?? -1,
): string[] {
  const missing = missingBpfCapabilities(caps, uid);
  const head = 'sonde: not enough privileges: the ebpf receiver loads programs into the kernel';
  const doctor = '`sonde doctor` lists what this host supports.';
  if (missing.length > 0) {
    return [
      `${head}, and this process lacks ${missing.join(', ')}.`,
      `       Run it as root (e.g. \`sudo ./bin/sonde run\`) or grant ${missing.join(' + ')}; ${doctor}`,
    ];
  }
  // Not reached in practice: SONDE_BPF_NO_PRIVILEGE is raised only when CAP_BPF + CAP_PERFMON (or
  // CAP_SYS_ADMIN) are missing. The capabilities may have changed since the refusal.
  return [`${head}; the kernel refused it. ${doctor}`];
}
