// `sonde doctor` on the real kernel: every check present, hooks really probed, plain-word verdicts,
// and, run with exactly the capabilities of deploy/systemd/sonde.service minus one, a finding that
// names the missing capability and exactly the features it costs.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCTOR_FEATURES, HOOKS, formatDoctorReport, runDoctor, type DoctorFeatureKey, type DoctorReport } from '../../src/receivers/ebpf/doctor.js';
import { readCapabilities } from '../../src/receivers/ebpf/libbpf/host.js';
import { capabilityList, readUnitFile, unitValue } from '../deploy/unit-file.js';
import { requireBpf } from './bpf-available.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const UNIT = join(root, 'deploy/systemd/sonde.service');
const NOBODY = 65534;
const ALL_FEATURES = Object.keys(DOCTOR_FEATURES) as DoctorFeatureKey[];

/** Findings about privileges and tracefs access (not about the kernel's hooks). */
const accessFindings = (r: DoctorReport): string[] => r.findings.map((f) => f.id).filter((id) => /^DOCTOR_(CAP|TRACEFS)_/.test(id));

const DOCTOR_JSON = `
  const { runDoctor, formatDoctorReport, doctorExitCode } = await import('./dist/receivers/ebpf/doctor.js');
  const report = await runDoctor();
  process.stdout.write(JSON.stringify({ report, text: formatDoctorReport(report), exitCode: doctorExitCode(report) }));
`;

interface RunAs {
  uid: number;
  /** Capability names (CAP_*): the bounding, inheritable and (for a non-root uid) ambient sets. */
  caps: string[];
  /** Unmount tracefs in the private mount namespace first. */
  umountTracefs?: boolean;
}

describe('sonde doctor (real kernel)', () => {
  const bpf = requireBpf();
  let mnt = '';

  beforeAll(() => {
    // The repository is bind-mounted (in a private mount namespace) on a directory any user may
    // enter, so a non-root uid can run it wherever the checkout lives.
    mnt = mkdtempSync(join(tmpdir(), 'sonde-doctor-'));
    chmodSync(mnt, 0o755);
  });
  afterAll(() => {
    if (mnt) rmSync(mnt, { recursive: true, force: true });
  });

  /** Runs `argv` (after node) as `uid` with exactly `caps`, no way to gain more, like the systemd unit. */
  function runAs(o: RunAs, argv: string[]): { status: number | null; stdout: string; stderr: string } {
    const capArg = ['-all', ...o.caps.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)].join(',');
    const ambient = o.uid === 0 ? '-all' : capArg;
    const setpriv = ['setpriv', `--reuid=${o.uid}`, `--regid=${o.uid}`, '--clear-groups', `--inh-caps=${capArg}`, `--ambient-caps=${ambient}`, `--bounding-set=${capArg}`, '--no-new-privs', '--'];
    const script = `${o.umountTracefs ? 'umount /sys/kernel/tracing || exit 90; ' : ''}mount --bind "$REPO" "$MNT" || exit 91; cd "$MNT" && exec "$@"`;
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', ...setpriv, process.execPath, ...argv], {
      encoding: 'utf8',
      env: { ...process.env, REPO: root, MNT: mnt, DOCTOR_JSON },
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  function doctorAs(o: RunAs): { report: DoctorReport; text: string; exitCode: number } {
    const r = runAs(o, ['--input-type=module', '-e', DOCTOR_JSON]);
    if (r.status !== 0) throw new Error(`doctor as uid ${o.uid} with ${o.caps.join(',')} exited ${r.status}:\n${r.stderr}`);
    return JSON.parse(r.stdout);
  }

  function unitCaps(): string[] {
    const unit = readUnitFile(UNIT);
    const ambient = capabilityList(unitValue(unit, 'Service', 'AmbientCapabilities'));
    expect(capabilityList(unitValue(unit, 'Service', 'CapabilityBoundingSet')).sort()).toEqual([...ambient].sort());
    return ambient;
  }

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
    expect(r.tcpConnectHook.degraded).toEqual([]);
    expect(r.http.ok, r.http.detail).toBe(true);
    expect(r.features.map((f) => f.key)).toEqual(ALL_FEATURES);
    expect(r.features.every((f) => f.works && f.causes.length === 0)).toBe(true);
    // Every failed hook carries the id of the finding that explains it, and every finding is printed.
    for (const hook of HOOKS) expect(r.hooks[hook].ok || r.findings.some((f) => f.id === r.hooks[hook].finding)).toBe(true);
    expect(accessFindings(r)).toEqual([]);

    const text = formatDoctorReport(r);
    for (const word of ['BTF', 'tracefs', 'bpffs', 'CAP_BPF', 'CAP_PERFMON', 'CAP_DAC_READ_SEARCH', 'CAP_NET_ADMIN', 'CAP_SYS_ADMIN', 'fentry', 'kprobe', 'raw tracepoint', 'uprobe', 'ringbuf', 'will work', 'Findings']) {
      expect(text).toContain(word);
    }
    for (const f of r.findings) expect(text).toContain(`  ${f.id}\n      ${f.summary}\n`);
    if (process.env.SONDE_TEST_VERBOSE) console.log(text);
  });

  // Root with every capability dropped: typed errors and plain "will NOT work" verdicts, no crash.
  // Runs the compiled dist/ (built by the global setup).
  it.runIf(bpf.ok)('names CAP_BPF and CAP_PERFMON, and only them, as uid 0 without capabilities', () => {
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
    const { report, text, code } = JSON.parse(out) as { report: DoctorReport; text: string; code: string };
    expect(code).toBe('SONDE_BPF_NO_PRIVILEGE');
    expect(report.capabilities).toEqual({ CAP_BPF: false, CAP_PERFMON: false, CAP_DAC_READ_SEARCH: false, CAP_NET_ADMIN: false, CAP_SYS_ADMIN: false });
    expect(report.hooks.tracepoint.detail).toMatch(/^SONDE_BPF_NO_PRIVILEGE/);
    expect(report.hooks.tracepoint.finding).toBe('DOCTOR_CAP_BPF_MISSING');
    // uid 0 owns tracefs: no CAP_DAC_READ_SEARCH finding although the capability is absent.
    expect(accessFindings(report)).toEqual(['DOCTOR_CAP_BPF_MISSING', 'DOCTOR_CAP_PERFMON_MISSING']);
    expect(report.features.every((f) => !f.works && f.causes.join() === 'DOCTOR_CAP_BPF_MISSING,DOCTOR_CAP_PERFMON_MISSING')).toBe(true);
    expect(text).toContain('will NOT work');
    expect(text).toContain('CAP_BPF missing: BPF maps cannot be created and BPF programs cannot be loaded');
    expect(text).toContain('CAP_PERFMON missing: tracing programs');
  });

  it.runIf(bpf.ok)('finds nothing missing with the unit\'s capabilities as a non-root user, nor with the DaemonSet\'s as uid 0', () => {
    const caps = unitCaps();
    expect([...caps].sort()).toEqual(['CAP_BPF', 'CAP_DAC_READ_SEARCH', 'CAP_PERFMON']);
    for (const as of [{ uid: NOBODY, caps }, { uid: 0, caps: ['CAP_BPF', 'CAP_PERFMON'] }]) {
      const { report, text, exitCode } = doctorAs(as);
      const label = `uid ${as.uid} with ${as.caps.join(',')}`;
      expect(report.capabilities, label).toEqual({ CAP_BPF: true, CAP_PERFMON: true, CAP_DAC_READ_SEARCH: as.caps.includes('CAP_DAC_READ_SEARCH'), CAP_NET_ADMIN: false, CAP_SYS_ADMIN: false });
      expect(accessFindings(report), label).toEqual([]);
      expect(report.tracefs.ok, label).toBe(true);
      expect(report.features.filter((f) => !f.works).map((f) => `${f.key}: ${f.detail}; http: ${report.http.detail}`), label).toEqual([]);
      expect(exitCode, label).toBe(0);
      expect(text, label).not.toMatch(/DOCTOR_(CAP|TRACEFS)_/);
    }
    // The command itself, as the unit's user would run it.
    const cli = runAs({ uid: NOBODY, caps }, ['bin/sonde', 'doctor']);
    expect(cli.stderr).toBe('');
    expect(cli.status).toBe(0);
    expect(cli.stdout).toContain('Findings (each id has an entry in docs/troubleshooting.md)');
    expect(cli.stdout).not.toMatch(/DOCTOR_(CAP|TRACEFS)_/);
  });

  // tracefs is root-only (0700) on the machines the tests run on; where it is readable by all,
  // CAP_DAC_READ_SEARCH costs nothing and the doctor must say so.
  const tracefsRootOnly = (): boolean => (statSync('/sys/kernel/tracing').mode & 0o005) === 0;
  const costs: Record<string, () => DoctorFeatureKey[]> = {
    CAP_DAC_READ_SEARCH: () => (tracefsRootOnly() ? ['tcpInbound', 'http'] : []),
    CAP_BPF: () => ALL_FEATURES,
    CAP_PERFMON: () => ALL_FEATURES,
  };

  for (const dropped of ['CAP_DAC_READ_SEARCH', 'CAP_BPF', 'CAP_PERFMON']) {
    it.runIf(bpf.ok)(`names ${dropped} and exactly the features it costs when only it is missing from the unit's set`, () => {
      const caps = unitCaps().filter((c) => c !== dropped);
      expect(caps).toHaveLength(2);
      const { report, text, exitCode } = doctorAs({ uid: NOBODY, caps });
      const lost = costs[dropped]!();
      const id = `DOCTOR_${dropped}_MISSING`;
      expect(report.capabilities[dropped as keyof DoctorReport['capabilities']]).toBe(false);

      if (lost.length === 0) {
        expect(accessFindings(report)).toEqual([]);
        expect(report.features.every((f) => f.works)).toBe(true);
        return;
      }
      expect(accessFindings(report)).toEqual([id]);
      const finding = report.findings.find((f) => f.id === id)!;
      expect(finding.summary.startsWith(`${dropped} missing: `)).toBe(true);
      expect(finding.costs).toEqual(lost.map((k) => DOCTOR_FEATURES[k]));
      for (const f of report.features) {
        expect({ feature: f.key, works: f.works, causes: f.causes }).toEqual({ feature: f.key, works: !lost.includes(f.key), causes: lost.includes(f.key) ? [id] : [] });
      }
      expect(report.capabilityUse[dropped as keyof DoctorReport['capabilityUse']].finding).toBe(id);
      expect(exitCode).toBe(1);

      // The printed report: the capability line, each lost feature and the finding with its costs.
      expect(text).toContain(`  ${dropped.padEnd(20)} no   ${id}: `);
      for (const k of lost) expect(text).toContain(`  will NOT work  ${DOCTOR_FEATURES[k]}: ${id} `);
      expect(text).toContain(`  ${id}\n      ${finding.summary}\n      costs: ${finding.costs.join('; ')}\n`);
      if (dropped === 'CAP_DAC_READ_SEARCH') {
        expect(finding.summary).toMatch(/^CAP_DAC_READ_SEARCH missing: tracefs \(\/sys\/kernel\/tracing\) cannot be read \(EACCES\), tracepoint ids cannot be resolved; /);
        expect(report.tracefs).toMatchObject({ ok: false, finding: id });
        expect(report.hooks.tracepoint).toMatchObject({ ok: false, finding: id });
        expect(report.hooks['raw tracepoint'].ok).toBe(true);
        expect(report.http).toMatchObject({ ok: false, finding: id });
      } else {
        expect(report.hooks.tracepoint.finding).toBe(id);
        expect(report.hooks['raw tracepoint'].finding).toBe(id);
      }

      // The command: same verdict, exit status 1.
      const cli = runAs({ uid: NOBODY, caps }, ['bin/sonde', 'doctor']);
      expect(cli.stderr).toBe('');
      expect(cli.status).toBe(1);
      expect(cli.stdout).toContain(`  ${id}\n      ${finding.summary}\n      costs: ${finding.costs.join('; ')}\n`);
    });
  }

  it.runIf(bpf.ok)('says every feature is lost when tracefs is not mounted and Sonde may not mount it, and nothing when it may', () => {
    const { report, exitCode } = doctorAs({ uid: 0, caps: ['CAP_BPF', 'CAP_PERFMON'], umountTracefs: true });
    expect(accessFindings(report)).toEqual(['DOCTOR_TRACEFS_NOT_MOUNTED']);
    const finding = report.findings.find((f) => f.id === 'DOCTOR_TRACEFS_NOT_MOUNTED')!;
    expect(finding.summary).toContain('mount -t tracefs tracefs /sys/kernel/tracing');
    expect(finding.costs).toEqual(ALL_FEATURES.map((k) => DOCTOR_FEATURES[k]));
    expect(report.features.every((f) => !f.works && f.causes.join() === 'DOCTOR_TRACEFS_NOT_MOUNTED')).toBe(true);
    expect(exitCode).toBe(1);

    // With CAP_SYS_ADMIN `sonde run` mounts it: the same finding, costing nothing.
    const root = doctorAs({ uid: 0, caps: ['CAP_BPF', 'CAP_PERFMON', 'CAP_SYS_ADMIN'], umountTracefs: true });
    expect(accessFindings(root.report)).toEqual(['DOCTOR_TRACEFS_NOT_MOUNTED']);
    expect(root.report.findings.find((f) => f.id === 'DOCTOR_TRACEFS_NOT_MOUNTED')).toMatchObject({ costs: [], note: '`sonde run` mounts it at start (CAP_SYS_ADMIN)' });
    expect(root.report.http).toMatchObject({ ok: false, finding: 'DOCTOR_TRACEFS_NOT_MOUNTED' });
    expect(root.report.features.every((f) => f.works)).toBe(true);
    expect(root.exitCode).toBe(0);
  });
});
