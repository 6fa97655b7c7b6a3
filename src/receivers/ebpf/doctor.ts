// `sonde doctor`: what this host offers for eBPF and which receiver features will work, found by
// really loading and attaching small programs (bpf/out/probe.bpf.o) and the TCP hook ladder.
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { SondeError } from '../../errors/index.js';
import { BpfObject } from './libbpf/bpf-object.js';
import { withQuietLibbpf } from './libbpf/log.js';
import { errnoName } from './libbpf/errors.js';
import { BPF_MAP_TYPE, getLibbpf } from './libbpf/bindings.js';
import { BTF_PATH, BPFFS_PATH, TRACEFS_PATH, bpffsMounted, hasBtf, pathExists, readCapabilities, tracefsMounted, type CapabilityName } from './libbpf/host.js';
import { DEFAULT_OBJECT_DIR } from './receiver.js';
import { TCP_HOOK_LADDER, loadTcpObject, type RungAttempt, type TcpConnectHook } from './tcp/tcp-capture.js';

export type HookName = 'fentry' | 'kprobe' | 'tracepoint' | 'raw tracepoint' | 'uprobe' | 'ringbuf';
export const HOOKS: readonly HookName[] = ['fentry', 'kprobe', 'tracepoint', 'raw tracepoint', 'uprobe', 'ringbuf'];

export interface DoctorCheck {
  ok: boolean;
  detail: string;
}

export interface DoctorReport {
  kernel: string;
  libbpf: DoctorCheck;
  btf: DoctorCheck;
  tracefs: DoctorCheck;
  bpffs: DoctorCheck;
  capabilities: Record<CapabilityName, boolean>;
  hooks: Record<HookName, DoctorCheck>;
  tcpConnectHook: { hook: TcpConnectHook | null; attempts: RungAttempt[] };
  features: { feature: string; works: boolean; detail: string }[];
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
    if (rc < 0) return { ok: false, detail: `could not probe ring buffer maps: ${errnoName(rc)}${rc === -1 ? ' (missing capabilities)' : ''}` };
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

function tracepointExists(category: string, name: string): boolean {
  return pathExists(`${TRACEFS_PATH}/events/${category}/${name}`);
}

export async function runDoctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const objectDir = options.objectDir ?? DEFAULT_OBJECT_DIR;
  const capabilities = readCapabilities();
  const privileged = capabilities.CAP_SYS_ADMIN || (capabilities.CAP_BPF && capabilities.CAP_PERFMON);
  const btf: DoctorCheck = hasBtf() ? { ok: true, detail: BTF_PATH } : { ok: false, detail: `${BTF_PATH} missing: the kernel was built without CONFIG_DEBUG_INFO_BTF` };
  const tracefs: DoctorCheck = tracefsMounted()
    ? { ok: true, detail: `mounted at ${TRACEFS_PATH}` }
    : capabilities.CAP_SYS_ADMIN
      ? { ok: false, detail: `not mounted; \`sonde run\` mounts it at ${TRACEFS_PATH} (running as root)` }
      : { ok: false, detail: `not mounted; as root run: mount -t tracefs tracefs ${TRACEFS_PATH}` };
  const bpffs: DoctorCheck = bpffsMounted()
    ? { ok: true, detail: `mounted at ${BPFFS_PATH}` }
    : { ok: false, detail: `not mounted at ${BPFFS_PATH} (not needed: Sonde pins nothing)` };

  let libbpf: DoctorCheck;
  try {
    libbpf = { ok: true, detail: `libbpf.so.1 ${getLibbpf().libbpf_version_string() as string}` };
  } catch (err) {
    libbpf = { ok: false, detail: reason(err) };
  }

  const hooks = {} as Record<HookName, DoctorCheck>;
  const probePath = join(objectDir, 'probe.bpf.o');
  for (const hook of HOOKS) {
    if (!libbpf.ok) hooks[hook] = { ok: false, detail: 'libbpf is missing' };
    else if (!pathExists(probePath)) hooks[hook] = { ok: false, detail: `${probePath} missing: run npm run build:bpf` };
    else hooks[hook] = withQuietLibbpf(() => probeHook(probePath, hook));
  }

  let tcpConnectHook: DoctorReport['tcpConnectHook'] = { hook: null, attempts: [] };
  if (libbpf.ok && pathExists(join(objectDir, 'tcp.bpf.o'))) {
    try {
      const loaded = loadTcpObject({ objectPath: join(objectDir, 'tcp.bpf.o'), ringBufferSize: 4096, wakeupThreshold: 0 }, TCP_HOOK_LADDER);
      loaded.obj.close();
      tcpConnectHook = { hook: loaded.hook, attempts: loaded.attempts };
    } catch (err) {
      tcpConnectHook = { hook: null, attempts: [{ hook: 'tracepoint', stateAttach: 'tracepoint', ok: false, reason: reason(err) }] };
    }
  }

  const base = libbpf.ok && btf.ok && privileged && hooks.ringbuf.ok;
  const tpUsable = hooks.tracepoint.ok || (!tracefs.ok && capabilities.CAP_SYS_ADMIN);
  const why = !libbpf.ok ? 'libbpf is missing' : !btf.ok ? 'the kernel has no BTF' : !privileged ? 'Sonde lacks CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN)' : !hooks.ringbuf.ok ? 'the kernel has no ring buffer maps' : '';
  const features: DoctorReport['features'] = [];
  const tcpOk = base && tpUsable && tcpConnectHook.hook !== null;
  features.push({
    feature: 'TCP outbound connections (outcome, handshake time, process)',
    works: tcpOk,
    detail: tcpOk ? `the connecting process is found with the ${tcpConnectHook.hook} hook` : why || 'the sock:inet_sock_set_state tracepoint cannot be used',
  });
  features.push({
    feature: 'TCP closes (lifetime, bytes sent and received)',
    works: tcpOk,
    detail: tcpOk ? 'read from the socket at the close transition (CO-RE)' : why || 'needs the sock:inet_sock_set_state tracepoint',
  });
  const acceptOk = tcpOk && (!tracefs.ok || tracepointExists('syscalls', 'sys_exit_accept4'));
  features.push({
    feature: 'TCP inbound connections (accepting process)',
    works: acceptOk,
    detail: acceptOk ? 'accept()/accept4() syscall exit tracepoints' : why || 'the syscalls:sys_exit_accept4 tracepoint is missing (CONFIG_FTRACE_SYSCALLS)',
  });
  const retransOk = tcpOk && (!tracefs.ok || tracepointExists('tcp', 'tcp_retransmit_skb'));
  features.push({
    feature: 'TCP retransmits',
    works: retransOk,
    detail: retransOk ? 'tcp:tcp_retransmit_skb tracepoint' : why || 'the tcp:tcp_retransmit_skb tracepoint is missing',
  });
  const httpOk = base && tpUsable && (!tracefs.ok || (tracepointExists('syscalls', 'sys_enter_write') && tracepointExists('syscalls', 'sys_exit_read')));
  features.push({
    feature: 'HTTP/1.x requests on plain-text sockets (spans and duration histograms)',
    works: httpOk,
    detail: httpOk ? 'read/write/send/recv syscall tracepoints' : why || 'syscall tracepoints are missing (CONFIG_FTRACE_SYSCALLS)',
  });

  return { kernel: release(), libbpf, btf, tracefs, bpffs, capabilities, hooks, tcpConnectHook, features };
}

const yes = (ok: boolean): string => (ok ? 'yes' : 'no ');

export function formatDoctorReport(r: DoctorReport): string {
  const lines: string[] = [];
  lines.push('Sonde doctor: what this host supports for the ebpf receiver', '');
  lines.push(`  kernel         ${r.kernel}`);
  lines.push(`  libbpf         ${yes(r.libbpf.ok)}  ${r.libbpf.detail}`);
  lines.push(`  BTF            ${yes(r.btf.ok)}  ${r.btf.detail}`);
  lines.push(`  tracefs        ${yes(r.tracefs.ok)}  ${r.tracefs.detail}`);
  lines.push(`  bpffs          ${yes(r.bpffs.ok)}  ${r.bpffs.detail}`);
  lines.push('', 'Capabilities (effective, from /proc/self/status CapEff)');
  for (const [name, ok] of Object.entries(r.capabilities)) lines.push(`  ${name.padEnd(14)} ${yes(ok)}`);
  lines.push('', 'Hooks (probed: a test program loaded and attached, then removed)');
  for (const hook of HOOKS) lines.push(`  ${hook.padEnd(14)} ${yes(r.hooks[hook].ok)}  ${r.hooks[hook].detail}`);
  lines.push('', 'TCP connect hook ladder (fentry, then kprobe, then tracepoint; first that works is used)');
  for (const a of r.tcpConnectHook.attempts) lines.push(`  ${`${a.hook}+${a.stateAttach}`.padEnd(26)} ${a.ok ? 'chosen' : `no   ${a.reason ?? ''}`}`);
  if (r.tcpConnectHook.attempts.length === 0) lines.push('  not tried (libbpf or bpf/out/tcp.bpf.o missing)');
  lines.push('', 'Receiver features');
  for (const f of r.features) lines.push(`  ${f.works ? 'will work    ' : 'will NOT work'}  ${f.feature}: ${f.detail}`);
  return `${lines.join('\n')}\n`;
}

/** Exit status of `sonde doctor`: 0 when every receiver feature will work here, 1 otherwise. */
export function doctorExitCode(r: DoctorReport): number {
  return r.features.every((f) => f.works) ? 0 : 1;
}
