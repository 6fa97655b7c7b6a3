// The systemd deployment: the units' settings, `systemd-analyze verify` and `security`, and
// deploy/systemd/install.sh run as a user would (in private namespaces, so this host is not
// changed). Then Sonde started twice: with the unit's exact command line as the unit's user
// holding only the unit's capabilities under an emulation of its file-system sandbox, and by
// systemd itself (PID 1 of a systemd-nspawn container). Both must capture real TCP connects and
// HTTP requests.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCaptured, measureCapture, startSandboxed, type SandboxedProcess } from './sandboxed-sonde.js';
import { pollValue } from '../helpers/poll.js';
import { REPO, SANDBOX, needs, requireAll, run } from './tools.js';
import { capabilityList, readUnitFile, splitCommand, unitEnvironment, unitValue, unitValues } from './unit-file.js';

const UNIT_PATH = join(REPO, 'deploy/systemd/sonde.service');
const TRACEFS_UNIT_PATH = join(REPO, 'deploy/systemd/sonde-tracefs.service');
const unit = readUnitFile(UNIT_PATH);
const tracefsUnit = readUnitFile(TRACEFS_UNIT_PATH);
const CAP_BITS: Record<string, number> = { CAP_DAC_READ_SEARCH: 2, CAP_NET_ADMIN: 12, CAP_SYS_PTRACE: 19, CAP_SYS_ADMIN: 21, CAP_PERFMON: 38, CAP_BPF: 39 };
/** systemd's default PATH for services. */
const SERVICE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Host pid of the container's PID 1 (systemd started with `systemd.unit=<target>`), or 0. */
function findInit(target: string): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith('/systemd') && argv.includes(`systemd.unit=${target}`)) return Number(entry);
    } catch {
      // gone
    }
  }
  return 0;
}

describe('deploy/systemd/sonde.service settings', () => {
  it('runs as the dedicated user with exactly CAP_BPF, CAP_PERFMON and CAP_DAC_READ_SEARCH and no way to gain more', () => {
    expect(unitValue(unit, 'Service', 'User')).toBe('sonde');
    expect(unitValue(unit, 'Service', 'Group')).toBe('sonde');
    const ambient = capabilityList(unitValue(unit, 'Service', 'AmbientCapabilities'));
    expect(ambient).toEqual(['CAP_BPF', 'CAP_PERFMON', 'CAP_DAC_READ_SEARCH']);
    expect(capabilityList(unitValue(unit, 'Service', 'CapabilityBoundingSet'))).toEqual(ambient);
    expect(unitValue(unit, 'Service', 'NoNewPrivileges')).toBe('yes');
  });

  it('sandboxes the file system, limits memory, restarts on failure and reloads with SIGHUP', () => {
    expect(unitValue(unit, 'Service', 'ProtectSystem')).toBe('strict');
    expect(unitValue(unit, 'Service', 'ProtectHome')).toBe('yes');
    expect(unitValue(unit, 'Service', 'PrivateTmp')).toBe('yes');
    expect(unitValue(unit, 'Service', 'StateDirectory')).toBe('sonde');
    expect(unitValue(unit, 'Service', 'MemoryMax')).toBe('1G');
    expect(unitValue(unit, 'Service', 'Restart')).toBe('on-failure');
    expect(splitCommand(unitValue(unit, 'Service', 'ExecReload')).argv).toEqual(['/bin/kill', '-HUP', '$MAINPID']);
    expect(splitCommand(unitValue(unit, 'Service', 'ExecStart')).argv).toEqual(['/opt/sonde/bin/sonde', 'run', '--config', '/etc/sonde/pipeline.config.yaml']);
    // Nothing runs with privileges inside the service; tracefs is mounted by its own unit first.
    expect(unitValues(unit, 'Service', 'ExecStartPre')).toEqual([]);
    expect(unitValues(unit, 'Unit', 'Requires')).toContain('sonde-tracefs.service');
    expect(unitValues(unit, 'Unit', 'After')).toContain('sonde-tracefs.service');
    expect(unitValue(tracefsUnit, 'Service', 'Type')).toBe('oneshot');
    expect(unitValue(tracefsUnit, 'Service', 'RemainAfterExit')).toBe('yes');
  });
});

describe('systemd deployment on this host (install.sh, then the unit command line)', () => {
  const ready = requireAll(needs.root, needs.sandboxTools, needs.systemdAnalyze, needs.bpf, needs.dist);
  const nspawnReady = ready && requireAll(needs.nspawn);
  let tmp = '';
  let installLog = '';
  const hostHadUser = spawnSync('id', ['-u', 'sonde']).status === 0;
  const hostHadApp = existsSync('/opt/sonde');

  // Everything install.sh writes lands in these overlay upper dirs, never on the host.
  const overlays = (): string[] => ['--overlay', `/opt=${tmp}/opt`, '--overlay', `/etc=${tmp}/etc`, '--overlay', `/var=${tmp}/var`];
  const sandboxed = (name: string, script: string, extra: string[] = []): { code: number; out: string } => {
    const r = run('bash', [SANDBOX, ...extra, ...overlays(), '--work', join(tmp, `work-${name}`), '--', 'bash', '-c', script]);
    return { code: r.code, out: r.stdout + r.stderr };
  };

  beforeAll(() => {
    if (!ready) return;
    tmp = mkdtempSync(join(tmpdir(), 'sonde-deploy-systemd-'));
    for (const d of ['opt', 'etc', 'var']) mkdirSync(join(tmp, d));
    // As a user would: install, edit the config, install again (an upgrade).
    const install = shq(join(REPO, 'deploy/systemd/install.sh'));
    const r = sandboxed('install', `set -e; ${install}; echo '# edited by the operator' >> /etc/sonde/pipeline.config.yaml; ${install}`, ['--host-net']);
    installLog = r.out;
    if (r.code !== 0) throw new Error(`install.sh failed (${r.code}):\n${r.out}`);
    // Two installs (each an `npm ci`) in one synchronous command: vitest fails a sync hook that
    // overran its timeout even when it succeeded, so the bound is run()'s own 300 s.
  }, 330_000);
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it.runIf(ready)('install.sh creates the user, installs app, config and unit, and keeps an edited config on upgrade', () => {
    expect(installLog).toContain('creating system user sonde');
    expect(installLog.match(/creating system user/g)).toHaveLength(1);
    expect(installLog).toContain('installed /etc/sonde/pipeline.config.yaml');
    expect(installLog).toContain('kept your /etc/sonde/pipeline.config.yaml');
    expect(installLog).toContain('enabled; systemd is not running here, so nothing was started');
    expect(readlinkSync(join(tmp, 'etc/systemd/system/multi-user.target.wants/sonde.service'))).toBe('/etc/systemd/system/sonde.service');
    expect(readFileSync(join(tmp, 'etc/systemd/system/sonde-tracefs.service'), 'utf8')).toBe(readFileSync(TRACEFS_UNIT_PATH, 'utf8'));
    const passwd = readFileSync(join(tmp, 'etc/passwd'), 'utf8').split('\n').find((l) => l.startsWith('sonde:'));
    expect(passwd).toMatch(/^sonde:x:\d+:\d+::\/var\/lib\/sonde:\/usr\/sbin\/nologin$/);
    for (const f of ['opt/sonde/bin/sonde', 'opt/sonde/dist/cli/main.js', 'opt/sonde/bpf/out/tcp.bpf.o', 'opt/sonde/bpf/out/http.bpf.o', 'opt/sonde/node_modules/koffi/package.json', 'opt/sonde/docs/deployment.md']) {
      expect(existsSync(join(tmp, f)), f).toBe(true);
    }
    // Production dependencies only.
    expect(existsSync(join(tmp, 'opt/sonde/node_modules/vitest'))).toBe(false);
    expect(existsSync(join(tmp, 'opt/sonde/node_modules/typescript'))).toBe(false);
    expect(readFileSync(join(tmp, 'etc/systemd/system/sonde.service'), 'utf8')).toBe(readFileSync(UNIT_PATH, 'utf8'));
    const shipped = readFileSync(join(REPO, 'deploy/systemd/pipeline.config.yaml'), 'utf8');
    expect(readFileSync(join(tmp, 'etc/sonde/pipeline.config.yaml'), 'utf8')).toBe(`${shipped}# edited by the operator\n`);
    expect(readFileSync(join(tmp, 'etc/sonde/pipeline.config.yaml.dist'), 'utf8')).toBe(shipped);
    // Nothing reached the host.
    expect(spawnSync('id', ['-u', 'sonde']).status === 0).toBe(hostHadUser);
    expect(existsSync('/opt/sonde')).toBe(hostHadApp);
  });

  it.runIf(ready)('systemd-analyze verify passes on the installed units, and fails where the program is missing', () => {
    const inside = sandboxed('verify', 'systemd-analyze verify --man=no /etc/systemd/system/sonde.service /etc/systemd/system/sonde-tracefs.service');
    expect(inside.out).toBe('');
    expect(inside.code).toBe(0);
    // Control: without the installed tree the same check must complain, so it really checks.
    if (!hostHadApp) {
      const outside = run('systemd-analyze', ['verify', '--man=no', UNIT_PATH]);
      expect(outside.code).not.toBe(0);
      expect(outside.stderr).toContain('/opt/sonde/bin/sonde');
    }
  });

  it.runIf(ready)('systemd-analyze security rates the sandbox at exposure below 5 (OK or better)', () => {
    const r = run('systemd-analyze', ['security', '--offline=true', '--man=no', '--no-pager', UNIT_PATH]);
    const m = /Overall exposure level for sonde\.service:\s*([\d.]+)\s+(\w+)/.exec(r.stdout + r.stderr);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    expect(Number(m![1])).toBeLessThan(5);
    expect(['OK', 'SAFE']).toContain(m![2]);
  });

  describe.runIf(ready)('the unit command line as a non-root user with only the unit capabilities', () => {
    let sonde: SandboxedProcess;

    beforeAll(async () => {
      const caps = capabilityList(unitValue(unit, 'Service', 'AmbientCapabilities'));
      const capArg = `-all,${caps.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`).join(',')}`;
      // sonde.service Requires= sonde-tracefs.service: its command runs first, as root.
      const pre = unitValues(tracefsUnit, 'Service', 'ExecStart').map((v) => splitCommand(v).argv.map(shq).join(' '));
      const start = splitCommand(unitValue(unit, 'Service', 'ExecStart')).argv;
      // systemd starts services with a clean environment: PATH, the user's HOME/USER/LOGNAME, Environment=.
      const user = unitValue(unit, 'Service', 'User');
      const group = unitValue(unit, 'Service', 'Group');
      const state = `/var/lib/${unitValue(unit, 'Service', 'StateDirectory')}`;
      const env = { PATH: SERVICE_PATH, HOME: state, USER: user, LOGNAME: user, ...unitEnvironment(unit) };
      // What systemd does for StateDirectory=: create it, owned by the service user (whose ids
      // are in the /etc/passwd that install.sh wrote).
      const entry = readFileSync(join(tmp, 'etc/passwd'), 'utf8').split('\n').find((l) => l.startsWith(`${user}:`))!.split(':');
      mkdirSync(join(tmp, state), { recursive: true });
      chmodSync(join(tmp, state), Number.parseInt(unitValue(unit, 'Service', 'StateDirectoryMode'), 8));
      chownSync(join(tmp, state), Number(entry[2]), Number(entry[3]));
      const script = [
        ...pre,
        `cd ${shq(unitValue(unit, 'Service', 'WorkingDirectory'))}`,
        `exec env -i ${Object.entries(env).map(([k, v]) => shq(`${k}=${v}`)).join(' ')} ` +
          `setpriv --reuid=${user} --regid=${group} --clear-groups --inh-caps=${capArg} --ambient-caps=${capArg} --bounding-set=${capArg} --no-new-privs -- ` +
          start.map(shq).join(' '),
      ].join('\n');
      sonde = startSandboxed([...overlays(), '--state', state, '--protect', '--work', join(tmp, 'work-run')], ['bash', '-c', script], process.env);
      await sonde.waitFor('http://127.0.0.1:8888/readyz', 30_000);
    });
    afterAll(async () => {
      await sonde?.stop();
    });

    it('holds exactly the three capabilities, as the unit\'s user', () => {
      const status = readFileSync(`/proc/${sonde.child.pid}/status`, 'utf8');
      const want = ['CAP_BPF', 'CAP_PERFMON', 'CAP_DAC_READ_SEARCH'].reduce((m, c) => m | (1n << BigInt(CAP_BITS[c]!)), 0n);
      for (const set of ['CapEff', 'CapPrm', 'CapAmb', 'CapBnd']) {
        const m = new RegExp(`^${set}:\\s*([0-9a-f]+)`, 'm').exec(status);
        expect(BigInt(`0x${m![1]}`), set).toBe(want);
      }
      const passwd = readFileSync(join(tmp, 'etc/passwd'), 'utf8').split('\n').find((l) => l.startsWith('sonde:'))!;
      expect(/^Uid:\s*(\d+)\s+(\d+)/m.exec(status)!.slice(1)).toEqual([passwd.split(':')[2], passwd.split(':')[2]]);
      expect(/^NoNewPrivs:\s*(\d)/m.exec(status)![1]).toBe('1');
    });

    it('captures TCP connects and HTTP requests (server and client side) with exact counts', async () => {
      // Metrics are emitted every collection_interval (10s in the shipped config).
      const r = await measureCapture({
        scrape: () => sonde.get('http://127.0.0.1:9464/metrics').body,
        own: () => sonde.get('http://127.0.0.1:8888/metrics').body,
        tcpConnects: 5,
        httpRequests: 7,
        clientSide: true,
      });
      expectCaptured(r, { tcp: 5, httpServer: 7, httpClient: 7 }, expect);
    }, 420_000); // up to 3 capture rounds of 2 x 40 s

    it('reloads on the ExecReload signal (SIGHUP) and stays ready', async () => {
      const before = sonde.output().length;
      sonde.child.kill('SIGHUP');
      // Stopping the old pipelines may wait up to the shutdown timeout (10s) for exporters to flush.
      const after = await pollValue(() => sonde.output().slice(before), (o) => o.includes('"config reloaded"'), 30_000, 500);
      expect(after).toContain('SIGHUP: reloading config');
      expect(after).toContain('"config reloaded"');
      await sonde.waitFor('http://127.0.0.1:8888/readyz', 20_000);
      expect(sonde.get('http://127.0.0.1:8888/healthz').status).toBe(200);
    });

    it('stops cleanly on SIGTERM (exit 0)', async () => {
      const code = await sonde.stop();
      expect(code, sonde.output().slice(-3000)).toBe(0);
    });
  });

  // The real thing: systemd itself starts the installed, enabled unit, applying every setting
  // (capabilities, NoNewPrivileges, ProtectSystem and the other sandboxing, seccomp filters). It
  // runs as PID 1 of a systemd-nspawn container booted from this host's own file system with the
  // install's /etc, /opt and /var laid over it; the host's files are not changed.
  describe.runIf(ready && nspawnReady)('under systemd (booted in a systemd-nspawn container)', () => {
    let container: SandboxedProcess;
    let init = 0;
    const target = `sonde-test-${process.pid}.target`;
    const inside = (...args: string[]): { code: number; out: string } => {
      const r = run('nsenter', ['-t', String(init), '-m', '-p', '-n', '--', ...args]);
      return { code: r.code, out: (r.stdout + r.stderr).trim() };
    };
    const systemctl = (...args: string[]): string => inside('systemctl', '--no-pager', ...args).out;

    beforeAll(async () => {
      const root = join(tmp, 'nspawn');
      const script = [
        'set -e',
        // overlayfs refuses an upper dir inside its lower one (/), hence a tmpfs for it.
        `mkdir -p ${root} && mount -t tmpfs tmpfs ${root} && mkdir ${root}/upper ${root}/work ${root}/rootfs`,
        `cp -a ${tmp}/etc ${tmp}/opt ${tmp}/var ${root}/upper/`,
        // Boot only what the service needs (the host's other enabled services stay off).
        `printf '[Unit]\\nDescription=Sonde deployment test\\nRequires=basic.target sonde.service\\nAfter=basic.target sonde.service\\n' > ${root}/upper/etc/systemd/system/${target}`,
        `mount -t overlay overlay -o lowerdir=/,upperdir=${root}/upper,workdir=${root}/work ${root}/rootfs`,
        // nspawn's defaults leave out the BPF capabilities and block bpf(); a host has both.
        `exec systemd-nspawn -D ${root}/rootfs --boot --private-network --register=no --keep-unit --link-journal=no --console=pipe ` +
          `--capability=CAP_BPF,CAP_PERFMON --system-call-filter='bpf perf_event_open' -- systemd.unit=${target}`,
      ].join('\n');
      container = startSandboxed(['--host-net', '--work', join(tmp, 'work-nspawn')], ['bash', '-c', script], process.env);
      const found = await pollValue(() => findInit(target), (pid) => pid > 0, 30_000, 500);
      if (!found) throw new Error(`the container did not boot:\n${container.output()}`);
      init = found;
      await pollValue(() => systemctl('is-active', 'sonde.service'), (s) => s === 'active' || s === 'failed', 60_000, 500);
      await pollValue(() => inside('curl', '-s', 'http://127.0.0.1:8888/readyz').out, (o) => o === 'ready', 30_000, 500);
      // Above the three polls' 120 s, so a slow boot shows as the tests' own failures.
    }, 180_000);
    afterAll(async () => {
      await container?.stop();
    });

    it('systemd starts the enabled unit after sonde-tracefs.service and keeps it running', () => {
      expect(systemctl('is-enabled', 'sonde.service')).toBe('enabled');
      expect(systemctl('is-active', 'sonde-tracefs.service')).toBe('active');
      expect(systemctl('is-active', 'sonde.service'), inside('journalctl', '-u', 'sonde', '--no-pager', '-n', '30').out).toBe('active');
      expect(systemctl('show', 'sonde.service', '-p', 'NRestarts', '--value')).toBe('0');
      expect(inside('curl', '-s', 'http://127.0.0.1:8888/readyz').out).toBe('ready');
      const log = inside('journalctl', '-u', 'sonde', '--no-pager', '-o', 'cat').out;
      expect(log).toContain('eBPF HTTP capture: syscall tracepoints attached');
    });

    it('the main process is the sonde user with exactly the three capabilities, no new privileges, seccomp on', () => {
      const pid = systemctl('show', 'sonde.service', '-p', 'MainPID', '--value');
      const status = inside('cat', `/proc/${pid}/status`).out;
      const uid = readFileSync(join(tmp, 'etc/passwd'), 'utf8').split('\n').find((l) => l.startsWith('sonde:'))!.split(':')[2];
      expect(/^Uid:\s*(\d+)\s+(\d+)/m.exec(status)!.slice(1)).toEqual([uid, uid]);
      for (const set of ['CapEff', 'CapPrm', 'CapAmb', 'CapBnd']) expect(new RegExp(`^${set}:\\s*([0-9a-f]+)`, 'm').exec(status)![1], set).toBe('000000c000000004');
      expect(/^NoNewPrivs:\s*(\d)/m.exec(status)![1]).toBe('1');
      expect(/^Seccomp:\s*(\d)/m.exec(status)![1]).toBe('2');
      // ProtectSystem=strict: /usr and /etc read-only, the state directory writable.
      const probe = inside('nsenter', '-t', pid, '-m', '--', 'sh', '-c', 'touch /etc/sonde-probe 2>&1; touch /var/lib/sonde/probe && echo state-ok; rm -f /var/lib/sonde/probe');
      expect(probe.out).toMatch(/Read-only file system/);
      expect(probe.out).toContain('state-ok');
    });

    it('captures TCP connects and HTTP requests made on the host', async () => {
      const r = await measureCapture({
        scrape: () => inside('curl', '-s', 'http://127.0.0.1:9464/metrics').out,
        own: () => inside('curl', '-s', 'http://127.0.0.1:8888/metrics').out,
        tcpConnects: 4,
        httpRequests: 3,
        clientSide: false,
      });
      expectCaptured(r, { tcp: 4, httpServer: 3 }, expect);
    }, 420_000); // up to 3 capture rounds of 2 x 40 s

    it('systemctl reload reloads the config; systemctl stop stops it cleanly', async () => {
      expect(inside('systemctl', 'reload', 'sonde.service').code).toBe(0);
      const log = await pollValue(() => inside('journalctl', '-u', 'sonde', '--no-pager', '-o', 'cat').out, (o) => o.includes('"config reloaded"'), 30_000, 500);
      expect(log).toContain('SIGHUP: reloading config');
      expect(log).toContain('"config reloaded"');
      expect(systemctl('is-active', 'sonde.service')).toBe('active');
      expect(inside('systemctl', 'stop', 'sonde.service').code).toBe(0);
      expect(systemctl('show', 'sonde.service', '-p', 'Result', '--value')).toBe('success');
      expect(systemctl('show', 'sonde.service', '-p', 'ExecMainStatus', '--value')).toBe('0');
    });
  });

  it.runIf(ready)('install.sh --uninstall removes the app and the unit, keeps config, state and user', () => {
    const r = sandboxed('uninstall', `${shq(join(REPO, 'deploy/systemd/install.sh'))} --uninstall && ls /opt/sonde /etc/systemd/system/sonde.service /etc/systemd/system/sonde-tracefs.service /etc/systemd/system/multi-user.target.wants/sonde.service 2>&1; ls /etc/sonde; id -un sonde`);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/cannot access '\/etc\/systemd\/system\/sonde-tracefs.service'/);
    expect(r.out).toMatch(/cannot access '\/etc\/systemd\/system\/multi-user.target.wants\/sonde.service'/);
    expect(r.out).toMatch(/cannot access '\/opt\/sonde'/);
    expect(r.out).toMatch(/cannot access '\/etc\/systemd\/system\/sonde.service'/);
    expect(r.out).toContain('pipeline.config.yaml');
    expect(r.out.trim().split('\n').at(-1)).toBe('sonde');
  });
});
