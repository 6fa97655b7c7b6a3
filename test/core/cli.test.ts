// The CLI end to end: validate's exit codes and output, and `sonde run` with a real receiver
// feeding the file exporter, stopped with SIGTERM and reloaded with SIGHUP.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { SONDE_BIN, promValue, startSonde, waitForOk, type SondeProcess } from '../helpers/sonde-process.js';
import { postSpans, spansInFile } from './run-fixtures.js';

const run = promisify(execFile);
const data = (name: string): string => fileURLToPath(new URL(`testdata/${name}`, import.meta.url));
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Runs the CLI from the repository root; with `setprivArgs`, under `setpriv setprivArgs...`. */
async function sonde(args: string[], setprivArgs?: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const [file, argv]: [string, string[]] = setprivArgs ? ['setpriv', [...setprivArgs, process.execPath, SONDE_BIN, ...args]] : [process.execPath, [SONDE_BIN, ...args]];
  try {
    const r = await run(file, argv, { cwd: repoRoot });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

describe('sonde validate', () => {
  it('accepts the shipped pipeline.config.yaml and prints the graph', async () => {
    const r = await sonde(['validate', '--config', 'pipeline.config.yaml']);
    expect(r.stderr).not.toMatch(/error:/);
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split('\n')).toEqual([
      'config: pipeline.config.yaml',
      'admin endpoint: 127.0.0.1:8888',
      'pipelines:',
      '  metrics: [ebpf] -> batch -> [debug, prometheus]',
      '  traces: [ebpf] -> batch -> [debug]',
    ]);
  });

  it('exits 1 and prints the unknown type, the unknown key and the missing exporter, each with line and column', async () => {
    const r = await sonde(['validate', '--config', data('three-problems.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/three-problems\.yaml:2:3: error: receivers\.nosuchreceiver: unknown receiver type/);
    expect(r.stderr).toMatch(/three-problems\.yaml:7:5: error: processors\.batch\.send_batch_sise: unknown key/);
    expect(r.stderr).toMatch(/three-problems\.yaml:16:26: error: .*exporter "otlp\/missing", which is not defined/);
  });

  it('runs the components\' own checks too, listing every problem with its line:col; run refuses the same file', async () => {
    // ebpf ring_buffer_size and collection_interval, an ebpf route, memory_limiter's spike and a
    // k8sattributes key_regex: the schemas accept them all, only the components' checks do not.
    const lines = [
      /semantic-problems\.yaml:4:23: error: receivers\.ebpf\.ring_buffer_size: 5000 bytes: must be a power of two between 4KiB and 1GiB/,
      /semantic-problems\.yaml:5:26: error: receivers\.ebpf\.collection_interval: must be greater than 0/,
      /semantic-problems\.yaml:7:32: error: receivers\.ebpf\.http\.routes\.1: route pattern "\/users\/\{id": a parameter must be a whole segment/,
      /semantic-problems\.yaml:11:22: error: processors\.memory_limiter\.spike_limit_mib: must be below limit_mib \(100\)/,
      /semantic-problems\.yaml:16:24: error: processors\.k8sattributes\.extract\.labels\.1\.key_regex: Invalid regular expression/,
    ];
    const v = await sonde(['validate', '--config', data('semantic-problems.yaml')]);
    expect(v.code).toBe(1);
    for (const re of lines) expect(v.stderr).toMatch(re);
    expect(v.stderr).toMatch(/semantic-problems\.yaml: 5 error\(s\)/);
    expect(v.stdout).toBe('');
    const r = await sonde(['run', '--config', data('semantic-problems.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/SONDE_CONFIG_INVALID: .*semantic-problems\.yaml has 5 problem\(s\)/);
    for (const re of lines) expect(r.stderr).toMatch(re);
  });

  it('says clearly when the file does not exist', async () => {
    const r = await sonde(['validate', '--config', '/nonexistent/sonde.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/SONDE_CONFIG_NOT_FOUND: cannot read config file \/nonexistent\/sonde.yaml/);
  });

  it('has --help on every command, and components and version work', async () => {
    for (const cmd of ['run', 'validate', 'doctor', 'components', 'version']) {
      const r = await sonde([cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`Usage: sonde ${cmd}`));
    }
    const c = await sonde(['components']);
    expect(c.stdout).toMatch(/processor\s+batch\s+beta/);
    expect(c.stdout).toMatch(/exporter\s+file/);
    expect((await sonde(['version'])).stdout).toMatch(/^sonde \d+\.\d+\.\d+/);
    expect((await sonde(['frobnicate'])).code).toBe(1);
  });
});

interface RunFixture {
  dir: string;
  configPath: string;
  otlpPort: number;
  adminPort: number;
}

function writeRunConfig(f: RunFixture, outFile: string): void {
  writeFileSync(
    f.configPath,
    `receivers:
  otlp:
    protocols:
      grpc: { enabled: false }
      http: { endpoint: "127.0.0.1:${f.otlpPort}" }
processors:
  batch:
    timeout: 10s
exporters:
  file:
    path: ${outFile}
service:
  telemetry:
    logs: { level: info }
    metrics: { address: "127.0.0.1:${f.adminPort}" }
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [file]
`,
  );
}

/** The shipped pipeline.config.yaml, with free ports so it cannot clash with other tests; returns its path. */
async function shippedConfigOnFreePorts(prefix: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const config = readFileSync(join(repoRoot, 'pipeline.config.yaml'), 'utf8')
    .replace('127.0.0.1:8888', `127.0.0.1:${await freePort()}`)
    .replace('127.0.0.1:9464', `127.0.0.1:${await freePort()}`);
  const file = join(dir, 'pipeline.config.yaml');
  writeFileSync(file, config);
  return file;
}

describe('sonde run', () => {
  let proc: SondeProcess | undefined;
  afterEach(async () => {
    if (proc && proc.child.exitCode === null) await proc.stop('SIGKILL');
    proc = undefined;
  });

  async function fixture(): Promise<RunFixture> {
    const dir = mkdtempSync(join(tmpdir(), 'sonde-run-'));
    return { dir, configPath: join(dir, 'sonde.yaml'), otlpPort: await freePort(), adminPort: await freePort() };
  }

  it('writes valid OTLP/JSON lines, and SIGTERM flushes the batch and exits 0 within 5 s', async () => {
    const f = await fixture();
    const out = join(f.dir, 'out.jsonl');
    writeRunConfig(f, out);
    proc = startSonde(['run', '--config', f.configPath]);
    await waitForOk(`http://127.0.0.1:${f.adminPort}/readyz`, proc);
    for (let i = 0; i < 5; i++) expect(await postSpans(f.otlpPort, 4)).toBe(200);
    // The batch timeout is 10 s: nothing may be on disk yet; SIGTERM must flush it.
    expect(spansInFile(out).spans).toBe(0);
    const metrics = await (await fetch(`http://127.0.0.1:${f.adminPort}/metrics`)).text();
    expect(promValue(metrics, 'sonde_receiver_accepted_items_total', { receiver: 'otlp' })).toBe(20);
    const { code, ms } = await proc.stop('SIGTERM');
    expect(code).toBe(0);
    expect(ms).toBeLessThan(5000);
    expect(spansInFile(out)).toEqual({ lines: 1, spans: 20 });
  });

  it('keeps the old pipelines running when SIGHUP brings a broken file, and applies a good one', async () => {
    const f = await fixture();
    const first = join(f.dir, 'first.jsonl');
    const second = join(f.dir, 'second.jsonl');
    writeRunConfig(f, first);
    proc = startSonde(['run', '--config', f.configPath]);
    await waitForOk(`http://127.0.0.1:${f.adminPort}/readyz`, proc);

    writeFileSync(f.configPath, 'receivers:\n  otlp:\n    protocolz: {}\nservice:\n  pipelines: {}\n');
    proc.child.kill('SIGHUP');
    await expect.poll(() => proc!.stderr(), { timeout: 10_000 }).toMatch(/sonde\.yaml:3:5: error: receivers\.otlp\.protocolz: unknown key/);
    const body = await (await fetch(`http://127.0.0.1:${f.adminPort}/metrics`)).text();
    expect(promValue(body, 'sonde_config_reloads_total', { result: 'rejected' })).toBe(1);
    expect(await postSpans(f.otlpPort, 3)).toBe(200);

    writeRunConfig(f, second);
    proc.child.kill('SIGHUP');
    await expect
      .poll(async () => promValue(await (await fetch(`http://127.0.0.1:${f.adminPort}/metrics`)).text(), 'sonde_config_reloads_total', { result: 'applied' }), { timeout: 15_000 })
      .toBe(1);
    // The reload stopped the old pipelines, which flushed the 3 spans to the first file.
    expect(spansInFile(first).spans).toBe(3);
    await expect.poll(async () => postSpans(f.otlpPort, 2).catch(() => 0), { timeout: 10_000 }).toBe(200);
    const { code } = await proc.stop('SIGTERM');
    expect(code).toBe(0);
    expect(spansInFile(second).spans).toBe(2);
  });

  it('names the missing capabilities when run without privileges on the shipped config', async () => {
    const file = await shippedConfigOnFreePorts('sonde-noroot-');
    // uid 0 with every capability dropped: the kernel refuses BPF exactly as for an ordinary user,
    // and the checkout stays readable wherever it was cloned (a non-root uid may not enter /root).
    const r = await sonde(['run', '--config', file], ['--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^sonde: not enough privileges: the ebpf receiver loads programs into the kernel, and this process lacks CAP_BPF, CAP_PERFMON\.$/m);
    expect(r.stderr).toMatch(/Run it as root .* or grant CAP_BPF \+ CAP_PERFMON;/);
    expect(r.stderr).toMatch(/SONDE_BPF_NO_PRIVILEGE/);
  });

  it('names the one capability that is missing when only CAP_PERFMON (and CAP_SYS_ADMIN, which covers it) is dropped', async () => {
    const file = await shippedConfigOnFreePorts('sonde-nocap-');
    // uid 0 keeps every other capability (CAP_BPF included): only CAP_PERFMON is missing.
    const r = await sonde(['run', '--config', file], ['--bounding-set=-perfmon,-sys_admin']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^sonde: not enough privileges: the ebpf receiver loads programs into the kernel, and this process lacks CAP_PERFMON\.$/m);
    expect(r.stderr).toMatch(/or grant CAP_PERFMON;/);
    expect(r.stderr).toMatch(/SONDE_BPF_NO_PRIVILEGE/);
  });

  it('exits 1 with the problems when the config is invalid at start', async () => {
    const r = await sonde(['run', '--config', data('three-problems.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/SONDE_CONFIG_INVALID/);
    expect(r.stderr).toMatch(/unknown receiver type "nosuchreceiver"/);
  });
});
