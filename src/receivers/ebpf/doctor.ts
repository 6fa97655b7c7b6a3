// `sonde doctor`: what this host offers for eBPF and which receiver features will work, found by
// really loading and attaching small programs (bpf/out/probe.bpf.o), the TCP hook ladder and the
// HTTP object, with the capabilities the doctor runs with. Every problem is a finding with a
// stable id (doctor-findings.ts) and one entry in docs/troubleshooting.md.
import { readdirSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { SondeError } from '../../errors/index.js';
import { BpfObject } from './libbpf/bpf-object.js';
import { withQuietLibbpf } from './libbpf/log.js';
import { errnoName } from './libbpf/errors.js';
import { BPF_MAP_TYPE, getLibbpf } from './libbpf/bindings.js';
import { BTF_PATH, BPFFS_PATH, TRACEFS_PATH, bpffsMounted, hasBtf, pathExists, readCapabilities, tracefsMounted, type CapabilityName } from './libbpf/host.js';
import { DEFAULT_OBJECT_DIR } from './receiver.js';
import { TCP_HOOK_LADDER, TCP_STATE_ATTACH_LADDER, loadTcpObject, type RungAttempt, type TcpConnectHook } from './tcp/tcp-capture.js';
import { DOCTOR_FEATURES, DOCTOR_FINDING_IDS, DOCTOR_FINDINGS, type DoctorFeatureKey, type DoctorFindingId } from './doctor-findings.js';

export { DOCTOR_FEATURES, DOCTOR_FINDINGS, DOCTOR_FINDING_IDS, type DoctorFeatureKey, type DoctorFindingId } from './doctor-findings.js';

export type HookName = 'fentry' | 'kprobe' | 'tracepoint' | 'raw tracepoint' | 'uprobe' | 'ringbuf';
export const HOOKS: readonly HookName[] = ['fentry', 'kprobe', 'tracepoint', 'raw tracepoint', 'uprobe', 'ringbuf'];

const HOOK_FINDING: Record<HookName, DoctorFindingId> = {
  fentry: 'DOCTOR_HOOK_FENTRY_UNAVAILABLE',
  kprobe: 'DOCTOR_HOOK_KPROBE_UNAVAILABLE',
  tracepoint: 'DOCTOR_HOOK_TRACEPOINT_UNAVAILABLE',
  'raw tracepoint': 'DOCTOR_HOOK_RAW_TRACEPOINT_UNAVAILABLE',
  uprobe: 'DOCTOR_HOOK_UPROBE_UNAVAILABLE',
  ringbuf: 'DOCTOR_RINGBUF_UNAVAILABLE',
};

export interface DoctorCheck {
  ok: boolean;
  detail: string;
  /** The finding that explains a failed check (its root cause, e.g. a missing capability). */
  finding?: DoctorFindingId;
}

export interface DoctorFinding {
  id: DoctorFindingId;
  /** What is wrong on this host, naming the capability or kernel feature and what it blocks. */
  summary: string;
  /** The receiver features (DOCTOR_FEATURES values) that will not work because of it. */
  costs: string[];
  /** Why it costs no feature, when it costs none. */
  note?: string;
}

export interface DoctorFeature {
  key: DoctorFeatureKey;
  feature: string;
  works: boolean;
  detail: string;
  /** The findings that stop it (empty when it works). */
  causes: DoctorFindingId[];
}

export interface DoctorReport {
  kernel: string;
  libbpf: DoctorCheck;
  btf: DoctorCheck;
  tracefs: DoctorCheck;
  bpffs: DoctorCheck;
  capabilities: Record<CapabilityName, boolean>;
  /** Per capability: whether Sonde needs it here, and the finding when it is missing. */
  capabilityUse: Record<CapabilityName, { detail: string; finding?: DoctorFindingId }>;
  hooks: Record<HookName, DoctorCheck>;
  tcpConnectHook: { hook: TcpConnectHook | null; attempts: RungAttempt[]; degraded: string[] };
  /** bpf/out/http.bpf.o loaded and every program attached (then removed). */
  http: DoctorCheck;
  features: DoctorFeature[];
  findings: DoctorFinding[];
}

export interface DoctorOptions {
  objectDir?: string;
}

function reason(err: unknown): string {
  if (err instanceof SondeError) return `${err.code}: ${err.message.split('\n')[0]}`;
  return (err as Error)?.message ?? String(err);
}

function libcPath(): string | undefined {
  try {
    const line = readFileSync('/proc/self/maps', 'utf8').split('\n').find((l) => /\/libc[.-][^/]*\.so/.test(l) || l.endsWith('/libc.so.6'));
    return line?.slice(line.indexOf('/'));
  } catch {
    return undefined;
  }
}

type TracefsAccess = { state: 'readable' } | { state: 'not-mounted' } | { state: 'denied'; error: string };

/**
 * Whether this process can look tracepoints up in tracefs as libbpf does. A real read, not a
 * guess from capabilities: uid 0 owns tracefs and needs no CAP_DAC_READ_SEARCH, some hosts mount
 * it readable by all, and an LSM may deny it even with the capability.
 */
function tracefsAccess(): TracefsAccess {
  if (!tracefsMounted()) return { state: 'not-mounted' };
  try {
    readdirSync(`${TRACEFS_PATH}/events`);
    return { state: 'readable' };
  } catch (err) {
    return { state: 'denied', error: (err as NodeJS.ErrnoException).code ?? String(err) };
  }
}

/** Loads one program of probe.bpf.o (and only it) and attaches it; detaches and closes at once. */
function probeHook(objectPath: string, hook: HookName): DoctorCheck {
  const program: Record<HookName, string> = {
    fentry: 'probe_fentry',
    kprobe: 'probe_kprobe',
    tracepoint: 'probe_tracepoint',
    'raw tracepoint': 'probe_raw_tracepoint',
    uprobe: 'probe_uprobe',
    ringbuf: 'probe_ringbuf',
  };
  if (hook === 'ringbuf') {
    const rc = getLibbpf().libbpf_probe_bpf_map_type(BPF_MAP_TYPE.RINGBUF, null) as number;
    if (rc === 0) return { ok: false, detail: 'the kernel has no BPF_MAP_TYPE_RINGBUF (Linux 5.8+)' };
    if (rc < 0) return { ok: false, detail: `could not probe ring buffer maps: ${errnoName(rc)}` };
  }
  let obj: BpfObject | undefined;
  try {
    obj = BpfObject.openFile(objectPath, { name: 'probe' });
    for (const p of obj.programs()) p.autoload = p.name === program[hook];
    obj.load();
    const p = obj.program(program[hook]);
    switch (hook) {
      case 'fentry':
        p.attachTrace().close();
        return { ok: true, detail: 'fentry on tcp_v4_connect attached' };
      case 'kprobe':
        p.attachKprobe('tcp_v4_connect').close();
        return { ok: true, detail: 'kprobe on tcp_v4_connect attached' };
      case 'tracepoint':
        p.attachTracepoint('sock', 'inet_sock_set_state').close();
        return { ok: true, detail: 'sock:inet_sock_set_state attached' };
      case 'raw tracepoint':
        p.attachRawTracepoint('inet_sock_set_state').close();
        return { ok: true, detail: 'raw inet_sock_set_state attached' };
      case 'uprobe': {
        const libc = libcPath();
        if (!libc) return { ok: false, detail: 'could not find libc in /proc/self/maps to try a uprobe on' };
        p.attachUprobe(libc, { funcName: 'getpid', pid: process.pid }).close();
        return { ok: true, detail: `uprobe on ${libc}:getpid attached` };
      }
      case 'ringbuf':
        return { ok: true, detail: 'ring buffer map created and used by a loaded program' };
    }
    return { ok: false, detail: 'unknown hook' };
  } catch (err) {
    return { ok: false, detail: reason(err) };
  } finally {
    obj?.close();
  }
}

/** Loads bpf/out/http.bpf.o with small maps and attaches every program, as the HTTP feature does. */
function probeHttp(objectPath: string): DoctorCheck {
  let obj: BpfObject | undefined;
  try {
    obj = BpfObject.openFile(objectPath, { name: 'http' });
    obj.map('http_events').setMaxEntries(4096);
    obj.map('http_conns').setMaxEntries(64);
    obj.load();
    let n = 0;
    for (const p of obj.programs()) {
      if (!p.autoload) continue;
      p.attach();
      n++;
    }
    return { ok: true, detail: `${n} syscall tracepoint programs attached` };
  } catch (err) {
    return { ok: false, detail: reason(err) };
  } finally {
    obj?.close();
  }
}

/**
 * The TCP hook ladder one rung at a time (the rung order of tcp-capture.ts), so that every failed
 * rung is reported even when none works; the first rung that loads and attaches ends it.
 */
function probeTcpLadder(objectPath: string): DoctorReport['tcpConnectHook'] {
  const attempts: RungAttempt[] = [];
  for (const hook of TCP_HOOK_LADDER) {
    for (const stateAttach of TCP_STATE_ATTACH_LADDER) {
      try {
        const loaded = withQuietLibbpf(() => loadTcpObject({ objectPath, ringBufferSize: 4096, wakeupThreshold: 0, maxConnections: 64 }, [hook], [stateAttach]));
        loaded.obj.close();
        attempts.push(...loaded.attempts);
        return { hook, attempts, degraded: loaded.degraded };
      } catch (err) {
        attempts.push({ hook, stateAttach, ok: false, reason: reason(err) });
      }
    }
  }
  return { hook: null, attempts, degraded: [] };
}

const CAPABILITY_ROLE: Record<CapabilityName, string> = {
  CAP_BPF: 'create BPF maps, load BPF programs',
  CAP_PERFMON: 'load tracing programs, attach them through perf events',
  CAP_DAC_READ_SEARCH: 'read tracepoint ids in tracefs when it is root-only',
  CAP_NET_ADMIN: 'not needed (Sonde uses no network attach types)',
  CAP_SYS_ADMIN: 'not needed (covers CAP_BPF + CAP_PERFMON; the only way before Linux 5.8)',
};

export async function runDoctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const objectDir = options.objectDir ?? DEFAULT_OBJECT_DIR;
  const caps = readCapabilities();
  const summaries = new Map<DoctorFindingId, string>();
  const notes = new Map<DoctorFindingId, string>();
  const raise = (id: DoctorFindingId, summary: string, note?: string): DoctorFindingId => {
    if (!summaries.has(id)) summaries.set(id, summary);
    if (note && !notes.has(id)) notes.set(id, note);
    return id;
  };

  // What stops every feature before any program is tried.
  let libbpf: DoctorCheck;
  try {
    libbpf = { ok: true, detail: `libbpf.so.1 ${getLibbpf().libbpf_version_string() as string}` };
  } catch (err) {
    libbpf = { ok: false, detail: reason(err) };
    libbpf.finding = raise('DOCTOR_LIBBPF_MISSING', `libbpf.so.1 cannot be loaded (${libbpf.detail}): no BPF program can be opened`);
  }
  const objectPath = (name: string): string => join(objectDir, `${name}.bpf.o`);
  const missingObjects = ['probe', 'tcp', 'http'].filter((n) => !pathExists(objectPath(n)));
  if (missingObjects.length > 0) {
    raise('DOCTOR_BPF_OBJECTS_MISSING', `${missingObjects.map(objectPath).join(', ')} missing: build them with npm run build:bpf`);
  }
  const btf: DoctorCheck = hasBtf() ? { ok: true, detail: BTF_PATH } : { ok: false, detail: `${BTF_PATH} missing: the kernel was built without CONFIG_DEBUG_INFO_BTF` };
  if (!btf.ok) btf.finding = raise('DOCTOR_BTF_MISSING', `${BTF_PATH} missing: the kernel was built without CONFIG_DEBUG_INFO_BTF, so the CO-RE programs cannot be relocated to it`);

  const capUse = {} as DoctorReport['capabilityUse'];
  for (const name of Object.keys(caps) as CapabilityName[]) capUse[name] = { detail: CAPABILITY_ROLE[name] };
  const privilegeCauses: DoctorFindingId[] = [];
  if (!caps.CAP_SYS_ADMIN) {
    if (!caps.CAP_BPF) {
      capUse.CAP_BPF.finding = raise('DOCTOR_CAP_BPF_MISSING', 'CAP_BPF missing: BPF maps cannot be created and BPF programs cannot be loaded');
      privilegeCauses.push('DOCTOR_CAP_BPF_MISSING');
    }
    if (!caps.CAP_PERFMON) {
      capUse.CAP_PERFMON.finding = raise('DOCTOR_CAP_PERFMON_MISSING', 'CAP_PERFMON missing: tracing programs (tracepoints, kprobes, uprobes) cannot be loaded or attached through perf events');
      privilegeCauses.push('DOCTOR_CAP_PERFMON_MISSING');
    }
  } else {
    if (!caps.CAP_BPF) capUse.CAP_BPF.detail = 'covered by CAP_SYS_ADMIN';
    if (!caps.CAP_PERFMON) capUse.CAP_PERFMON.detail = 'covered by CAP_SYS_ADMIN';
  }

  // tracefs: libbpf resolves tracepoint ids through it. `sonde run` mounts it when it may.
  const access = tracefsAccess();
  const tracefsDeferred = access.state === 'not-mounted' && caps.CAP_SYS_ADMIN;
  let tracefsCause: DoctorFindingId | undefined;
  let tracefs: DoctorCheck;
  if (access.state === 'readable') {
    tracefs = { ok: true, detail: `mounted at ${TRACEFS_PATH}, readable` };
    if (!caps.CAP_DAC_READ_SEARCH) capUse.CAP_DAC_READ_SEARCH.detail = 'not needed here: tracefs is readable without it';
  } else if (access.state === 'not-mounted') {
    tracefsCause = tracefsDeferred
      ? raise('DOCTOR_TRACEFS_NOT_MOUNTED', `tracefs is not mounted at ${TRACEFS_PATH}; \`sonde run\` mounts it (CAP_SYS_ADMIN)`, '`sonde run` mounts it at start (CAP_SYS_ADMIN)')
      : raise('DOCTOR_TRACEFS_NOT_MOUNTED', `tracefs is not mounted at ${TRACEFS_PATH} and Sonde may not mount it (no CAP_SYS_ADMIN): tracepoint ids cannot be resolved and the ebpf receiver refuses to start; as root run: mount -t tracefs tracefs ${TRACEFS_PATH}`);
    tracefs = { ok: false, detail: tracefsDeferred ? `not mounted; \`sonde run\` mounts it at ${TRACEFS_PATH} (CAP_SYS_ADMIN)` : `not mounted; as root run: mount -t tracefs tracefs ${TRACEFS_PATH}`, finding: tracefsCause };
  } else if (!caps.CAP_DAC_READ_SEARCH) {
    tracefsCause = raise('DOCTOR_CAP_DAC_READ_SEARCH_MISSING', `CAP_DAC_READ_SEARCH missing: tracefs (${TRACEFS_PATH}) cannot be read (${access.error}), tracepoint ids cannot be resolved`);
    tracefs = { ok: false, detail: `mounted at ${TRACEFS_PATH} but not readable (${access.error})`, finding: tracefsCause };
    capUse.CAP_DAC_READ_SEARCH.finding = tracefsCause;
  } else {
    tracefsCause = raise('DOCTOR_TRACEFS_UNREADABLE', `tracefs (${TRACEFS_PATH}) cannot be read (${access.error}) although CAP_DAC_READ_SEARCH is held (an LSM or the container's mount denies it): tracepoint ids cannot be resolved`);
    tracefs = { ok: false, detail: `mounted at ${TRACEFS_PATH} but not readable (${access.error})`, finding: tracefsCause };
  }
  const bpffs: DoctorCheck = bpffsMounted() ? { ok: true, detail: `mounted at ${BPFFS_PATH}` } : { ok: false, detail: `not mounted at ${BPFFS_PATH} (not needed: Sonde pins nothing)` };
  if (!bpffs.ok) bpffs.finding = raise('DOCTOR_BPFFS_NOT_MOUNTED', `bpffs is not mounted at ${BPFFS_PATH}`, 'Sonde pins no maps or programs');

  // The root cause of a failed probe: what is missing before the kernel's own answer counts.
  const rootCause = (object: string): DoctorFindingId | undefined =>
    !libbpf.ok ? 'DOCTOR_LIBBPF_MISSING' : missingObjects.includes(object) ? 'DOCTOR_BPF_OBJECTS_MISSING' : privilegeCauses[0] ?? (btf.ok ? undefined : 'DOCTOR_BTF_MISSING');

  const hooks = {} as Record<HookName, DoctorCheck>;
  for (const hook of HOOKS) {
    const blocked = rootCause('probe');
    let check: DoctorCheck;
    if (!libbpf.ok) check = { ok: false, detail: 'libbpf is missing' };
    else if (missingObjects.includes('probe')) check = { ok: false, detail: `${objectPath('probe')} missing: run npm run build:bpf` };
    else if (hook === 'ringbuf' && privilegeCauses.length > 0) check = { ok: false, detail: 'not probed: creating BPF maps needs CAP_BPF and CAP_PERFMON' };
    else check = withQuietLibbpf(() => probeHook(objectPath('probe'), hook));
    if (!check.ok) {
      if (blocked) check.finding = blocked;
      else if (hook === 'tracepoint' && tracefsCause) check.finding = tracefsCause;
      else {
        let summary = `${hook} hook unavailable: ${check.detail}`;
        if (hook === 'uprobe' && /EACCES/.test(check.detail) && !caps.CAP_SYS_ADMIN) summary += ' (on the kernels Sonde is tested on, attaching uprobes needs CAP_SYS_ADMIN, which Sonde is not granted on purpose)';
        if (hook === 'kprobe' && tracefsCause) summary += ` (tracefs cannot be used, so libbpf's fallback through it fails too; ${tracefsCause} says why)`;
        const note =
          hook === 'fentry' || hook === 'kprobe' ? 'optional: the TCP connect-hook ladder falls back to the next hook'
            : hook === 'uprobe' ? 'no receiver feature uses uprobes'
              : hook === 'ringbuf' ? undefined
                : 'the receiver features that need it are listed with their own finding';
        check.finding = raise(HOOK_FINDING[hook], hook === 'ringbuf' ? `BPF ring buffer maps are unavailable: ${check.detail}` : summary, note);
      }
    }
    hooks[hook] = check;
  }
  const ringbufCause = hooks.ringbuf.ok || hooks.ringbuf.finding !== 'DOCTOR_RINGBUF_UNAVAILABLE' ? undefined : 'DOCTOR_RINGBUF_UNAVAILABLE';

  // The real objects, as `sonde run` loads them.
  let tcpConnectHook: DoctorReport['tcpConnectHook'] = { hook: null, attempts: [], degraded: [] };
  if (libbpf.ok && !missingObjects.includes('tcp')) tcpConnectHook = probeTcpLadder(objectPath('tcp'));
  let http: DoctorCheck;
  if (!libbpf.ok) http = { ok: false, detail: 'libbpf is missing', finding: 'DOCTOR_LIBBPF_MISSING' };
  else if (missingObjects.includes('http')) http = { ok: false, detail: `${objectPath('http')} missing: run npm run build:bpf`, finding: 'DOCTOR_BPF_OBJECTS_MISSING' };
  else if (tracefsDeferred) http = { ok: false, detail: 'not probed: tracefs is not mounted yet (`sonde run` mounts it)', finding: 'DOCTOR_TRACEFS_NOT_MOUNTED' };
  else http = withQuietLibbpf(() => probeHttp(objectPath('http')));

  // Verdicts. Everything needs libbpf, BTF, the two capabilities, ring buffers, and (for the
  // receiver to start at all) tracefs mounted or mountable.
  const gate = (object: string): DoctorFindingId[] => {
    const ids: DoctorFindingId[] = [];
    if (!libbpf.ok) ids.push('DOCTOR_LIBBPF_MISSING');
    if (missingObjects.includes(object)) ids.push('DOCTOR_BPF_OBJECTS_MISSING');
    if (!btf.ok) ids.push('DOCTOR_BTF_MISSING');
    ids.push(...privilegeCauses);
    if (access.state === 'not-mounted' && !tracefsDeferred) ids.push('DOCTOR_TRACEFS_NOT_MOUNTED');
    if (ringbufCause) ids.push(ringbufCause);
    return ids;
  };
  const features: DoctorFeature[] = [];
  const verdict = (key: DoctorFeatureKey, causes: DoctorFindingId[], okDetail: string): DoctorFeature => {
    const f: DoctorFeature = {
      key,
      feature: DOCTOR_FEATURES[key],
      works: causes.length === 0,
      detail: causes.length === 0 ? okDetail : causes.map((id) => `${id} (${DOCTOR_FINDINGS[id]})`).join('; '),
      causes,
    };
    features.push(f);
    return f;
  };

  const tcpGate = gate('tcp');
  let tcpCauses = tcpGate;
  if (tcpGate.length === 0 && tcpConnectHook.hook === null) {
    const last = tcpConnectHook.attempts.at(-1)?.reason ?? 'not tried';
    tcpCauses = [raise('DOCTOR_TCP_HOOKS_UNAVAILABLE', `no rung of the TCP hook ladder loads and attaches; the last one: ${last}`)];
  }
  const tcp = verdict('tcpOutbound', tcpCauses, `the connecting process is found with the ${tcpConnectHook.hook} hook`);
  verdict('tcpClose', tcpCauses, 'read from the socket at the close transition (CO-RE)');
  let inboundCauses = tcpCauses;
  if (tcp.works && tcpConnectHook.degraded.length > 0 && !tracefsDeferred) {
    inboundCauses = [tracefsCause ?? raise('DOCTOR_ACCEPT_TRACEPOINTS_UNAVAILABLE', `the accept()/accept4() syscall tracepoints cannot be attached: ${tcpConnectHook.degraded.join('; ')}`)];
  }
  verdict('tcpInbound', inboundCauses, tracefsDeferred ? 'accept()/accept4() syscall exit tracepoints (not probed: tracefs is mounted by `sonde run`)' : 'accept()/accept4() syscall exit tracepoints');
  verdict('tcpRetransmits', tcpCauses, `tcp_retransmit_skb via ${tcpConnectHook.attempts.at(-1)?.stateAttach ?? 'tracepoint'}`);
  let httpCauses = gate('http');
  if (httpCauses.length === 0 && !http.ok && !tracefsDeferred) {
    httpCauses = [tracefsCause ?? raise('DOCTOR_HTTP_TRACEPOINTS_UNAVAILABLE', `the HTTP capture programs cannot be loaded or attached: ${http.detail}`)];
  }
  if (!http.ok && !http.finding && httpCauses.length > 0) http.finding = httpCauses[0];
  verdict('http', httpCauses, tracefsDeferred ? 'read/write/send/recv syscall tracepoints (not probed: tracefs is mounted by `sonde run`)' : 'read/write/send/recv syscall tracepoints');

  const findings: DoctorFinding[] = DOCTOR_FINDING_IDS.filter((id) => summaries.has(id)).map((id) => {
    const costs = features.filter((f) => f.causes.includes(id)).map((f) => f.feature);
    let summary = summaries.get(id)!;
    // The receiver starts all its enabled features or none: a lost HTTP capture stops TCP too.
    if (costs.includes(DOCTOR_FEATURES.http) && tcp.works) summary += '; `sonde run` with HTTP capture on (the default) fails to start the ebpf receiver: fix this, or set receivers.ebpf.http.enabled: false for TCP capture alone';
    const finding: DoctorFinding = { id, summary, costs };
    if (costs.length === 0) finding.note = notes.get(id) ?? 'no receiver feature depends on it alone';
    return finding;
  });

  return { kernel: release(), libbpf, btf, tracefs, bpffs, capabilities: caps, capabilityUse: capUse, hooks, tcpConnectHook, http, features, findings };
}

const yes = (ok: boolean): string => (ok ? 'yes' : 'no ');
const tagged = (c: { detail: string; finding?: DoctorFindingId }): string => (c.finding ? `${c.finding}: ${c.detail}` : c.detail);

export function formatDoctorReport(r: DoctorReport): string {
  const lines: string[] = [];
  lines.push('Sonde doctor: what this host supports for the ebpf receiver', '');
  lines.push(`  kernel         ${r.kernel}`);
  lines.push(`  libbpf         ${yes(r.libbpf.ok)}  ${tagged(r.libbpf)}`);
  lines.push(`  BTF            ${yes(r.btf.ok)}  ${tagged(r.btf)}`);
  lines.push(`  tracefs        ${yes(r.tracefs.ok)}  ${tagged(r.tracefs)}`);
  lines.push(`  bpffs          ${yes(r.bpffs.ok)}  ${tagged(r.bpffs)}`);
  lines.push('', 'Capabilities (effective, from /proc/self/status CapEff)');
  for (const [name, ok] of Object.entries(r.capabilities) as [CapabilityName, boolean][]) {
    lines.push(`  ${name.padEnd(20)} ${yes(ok)}  ${tagged(r.capabilityUse[name])}`);
  }
  lines.push('', 'Hooks (probed: a test program loaded and attached, then removed)');
  for (const hook of HOOKS) lines.push(`  ${hook.padEnd(14)} ${yes(r.hooks[hook].ok)}  ${tagged(r.hooks[hook])}`);
  lines.push('', 'TCP connect hook ladder (fentry, then kprobe, then tracepoint; first that works is used)');
  for (const a of r.tcpConnectHook.attempts) lines.push(`  ${`${a.hook}+${a.stateAttach}`.padEnd(26)} ${a.ok ? 'chosen' : `no   ${a.reason ?? ''}`}`);
  if (r.tcpConnectHook.attempts.length === 0) lines.push('  not tried (libbpf or bpf/out/tcp.bpf.o missing)');
  for (const d of r.tcpConnectHook.degraded) lines.push(`  not attached: ${d}`);
  lines.push('', 'HTTP capture programs (bpf/out/http.bpf.o loaded and attached, then removed)');
  lines.push(`  ${yes(r.http.ok)}  ${tagged(r.http)}`);
  lines.push('', 'Receiver features');
  for (const f of r.features) lines.push(`  ${f.works ? 'will work    ' : 'will NOT work'}  ${f.feature}: ${f.detail}`);
  lines.push('', 'Findings (each id has an entry in docs/troubleshooting.md)');
  if (r.findings.length === 0) lines.push('  none');
  for (const f of r.findings) {
    lines.push(`  ${f.id}`, `      ${f.summary}`);
    lines.push(f.costs.length > 0 ? `      costs: ${f.costs.join('; ')}` : `      costs no receiver feature: ${f.note ?? ''}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Exit status of `sonde doctor`: 0 when every receiver feature will work here, 1 otherwise. */
export function doctorExitCode(r: DoctorReport): number {
  return r.features.every((f) => f.works) ? 0 : 1;
}
