// The stable ids of `sonde doctor` findings and the receiver features they can cost. A plain list
// (no libbpf): docs/troubleshooting.md has exactly one `## DOCTOR_*` entry per id, which
// test/core/docs.test.ts checks. Renaming an id is a change of Sonde's public interface.

/** Every finding id, with what it is about (the doctor's printed summary says more, per host). */
export const DOCTOR_FINDINGS = {
  DOCTOR_LIBBPF_MISSING: 'libbpf.so.1 cannot be loaded',
  DOCTOR_BPF_OBJECTS_MISSING: 'the compiled BPF objects (bpf/out/*.bpf.o) are missing',
  DOCTOR_BTF_MISSING: 'the kernel exposes no BTF',
  DOCTOR_TRACEFS_NOT_MOUNTED: 'tracefs is not mounted',
  DOCTOR_TRACEFS_UNREADABLE: 'tracefs cannot be read although CAP_DAC_READ_SEARCH is held',
  DOCTOR_BPFFS_NOT_MOUNTED: 'bpffs is not mounted (Sonde does not need it)',
  DOCTOR_CAP_BPF_MISSING: 'CAP_BPF is missing',
  DOCTOR_CAP_PERFMON_MISSING: 'CAP_PERFMON is missing',
  DOCTOR_CAP_DAC_READ_SEARCH_MISSING: 'CAP_DAC_READ_SEARCH is missing and tracefs is not readable without it',
  DOCTOR_RINGBUF_UNAVAILABLE: 'BPF ring buffer maps are unavailable',
  DOCTOR_HOOK_FENTRY_UNAVAILABLE: 'fentry programs cannot be loaded or attached',
  DOCTOR_HOOK_KPROBE_UNAVAILABLE: 'kprobes cannot be attached',
  DOCTOR_HOOK_TRACEPOINT_UNAVAILABLE: 'tracepoint programs cannot be attached',
  DOCTOR_HOOK_RAW_TRACEPOINT_UNAVAILABLE: 'raw tracepoint programs cannot be attached',
  DOCTOR_HOOK_UPROBE_UNAVAILABLE: 'uprobes cannot be attached',
  DOCTOR_TCP_HOOKS_UNAVAILABLE: 'no rung of the TCP hook ladder loads and attaches',
  DOCTOR_ACCEPT_TRACEPOINTS_UNAVAILABLE: 'the accept()/accept4() syscall tracepoints cannot be attached',
  DOCTOR_HTTP_TRACEPOINTS_UNAVAILABLE: 'the HTTP capture programs cannot be loaded or attached',
} as const;

export type DoctorFindingId = keyof typeof DOCTOR_FINDINGS;
export const DOCTOR_FINDING_IDS = Object.keys(DOCTOR_FINDINGS) as DoctorFindingId[];

/** The receiver features the doctor gives a verdict on, in the order it prints them. */
export const DOCTOR_FEATURES = {
  tcpOutbound: 'TCP outbound connections (outcome, handshake time, process)',
  tcpClose: 'TCP closes (lifetime, bytes sent and received)',
  tcpInbound: 'TCP inbound connections (accepting process)',
  tcpRetransmits: 'TCP retransmits',
  http: 'HTTP/1.x requests on plain-text sockets (spans and duration histograms)',
} as const;

export type DoctorFeatureKey = keyof typeof DOCTOR_FEATURES;
