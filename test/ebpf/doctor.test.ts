// `sonde doctor` on the real kernel: every check present, hooks really probed, plain-word verdicts.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HOOKS, formatDoctorReport, runDoctor } from '../../src/receivers/ebpf/doctor.js';
import { readCapabilities } from '../../src/receivers/ebpf/libbpf/host.js';
import { requireBpf } from './bpf-available.js';

describe('sonde doctor (real kernel)', () => {
  const bpf = requireBpf();

  it.runIf(bpf.ok)('reports BTF, tracefs, bpffs, capabilities, every hook, the ladder choice and features', async () => {
    const r = await runDoctor();
    expect(r.btf.ok).toBe(true);
    expect(r.libbpf.detail).toMatch(/^libbpf\.so\.1 v?1\./);
    expect(Object.keys(r.capabilities).sort()).toEqual(['CAP_BPF', 'CAP_DAC_READ_SEARCH', 'CAP_NET_ADMIN', 'CAP_PERFMON', 'CAP_SYS_ADMIN']);
    expect(r.capabilities).toEqual(readCapabilities());
    expect(Object.keys(r.hooks)).toEqual([...HOOKS]);
    // What kernel.md says of these machines; a real probe, so a different kernel answers differently.
    expect(r.hooks.tracepoint.ok).toBe(true);
    expect(r.hooks['raw tracepoint'].ok).toBe(true);
    expect(r.hooks.uprobe.ok).toBe(true);
    expect(r.hooks.ringbuf.ok).toBe(true);
    // the ladder's choice is consistent with the hook probes
    const expected = r.hooks.fentry.ok ? 'fentry' : r.hooks.kprobe.ok ? 'kprobe' : 'tracepoint';
    expect(r.tcpConnectHook.hook).toBe(expected);
    expect(r.tcpConnectHook.attempts.at(-1)).toMatchObject({ hook: expected, ok: true });
    expect(r.features.every((f) => f.works)).toBe(true);

    const text = formatDoctorReport(r);
    for (const word of ['BTF', 'tracefs', 'bpffs', 'CAP_BPF', 'CAP_PERFMON', 'CAP_DAC_READ_SEARCH', 'CAP_NET_ADMIN', 'CAP_SYS_ADMIN', 'fentry', 'kprobe', 'raw tracepoint', 'uprobe', 'ringbuf', 'will work']) {
      expect(text).toContain(word);
    }
    if (process.env.SONDE_TEST_VERBOSE) console.log(text);
  });

  // Without capabilities (root with every capability dropped by setpriv): typed errors and plain
  // "will NOT work" verdicts, no crash. Runs the compiled dist/ (built by the global setup).
  it.runIf(bpf.ok)('says plainly that nothing works without capabilities, with SONDE_BPF_NO_PRIVILEGE', () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const script = `
      const { runDoctor, formatDoctorReport } = await import('./dist/receivers/ebpf/doctor.js');
      const { BpfObject } = await import('./dist/receivers/ebpf/libbpf/bpf-object.js');
      const report = await runDoctor();
      let code = null;
      const o = BpfObject.openFile('bpf/out/tcp.bpf.o');
      try { o.load(); } catch (e) { code = e.code; } finally { o.close(); }
      process.stdout.write(JSON.stringify({ report, text: formatDoctorReport(report), code }));
    `;
    const out = execFileSync('setpriv', ['--bounding-set', '-all', '--inh-caps', '-all', '--ambient-caps', '-all', process.execPath, '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    const { report, text, code } = JSON.parse(out);
    expect(code).toBe('SONDE_BPF_NO_PRIVILEGE');
    expect(report.capabilities).toEqual({ CAP_BPF: false, CAP_PERFMON: false, CAP_DAC_READ_SEARCH: false, CAP_NET_ADMIN: false, CAP_SYS_ADMIN: false });
    expect(report.hooks.tracepoint.detail).toMatch(/^SONDE_BPF_NO_PRIVILEGE/);
    expect(report.features.every((f: { works: boolean }) => !f.works)).toBe(true);
    expect(text).toContain('will NOT work');
    expect(text).toContain('lacks CAP_BPF');
  });
});
