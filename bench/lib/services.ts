// Processes the benchmarks drive: Sonde itself (bin/sonde run), the Go OTLP sink, and polling.
import { mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { waitForOk, type SondeProcess } from '../../test/helpers/sonde-process.js';
import { repoRoot } from './paths.js';

export { freePort } from '../../test/helpers/free-port.js';
export { promValue } from '../../test/helpers/sonde-process.js';

/** Runs bin/sonde of this checkout (test/helpers' startSonde resolves it relative to its own file). */
function startSonde(args: string[], env: NodeJS.ProcessEnv, profileOut?: string): SondeProcess {
  const entry = profileOut ? join(repoRoot(), 'bench/.cache/dist/bench/lib/profiled-sonde.js') : join(repoRoot(), 'bin/sonde');
  const child = spawn(process.execPath, [entry, ...args], {
    env: { ...process.env, ...env, ...(profileOut ? { SONDE_PROFILE_OUT: profileOut } : {}) }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-100_000); });
  child.stderr!.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-100_000); });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child, stdout: () => out, stderr: () => err, exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      const t0 = Date.now();
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      return { code, ms: Date.now() - t0 };
    },
  };
}

export interface RunningSonde {
  proc: SondeProcess;
  pid: number;
  admin: string;
  stop(): Promise<void>;
}

/** Writes `yaml` to a temp dir and runs `sonde run --config` on it until /readyz answers. */
export async function runSonde(yaml: string, adminAddress: string, env: NodeJS.ProcessEnv = {}): Promise<RunningSonde> {
  const dir = mkdtempSync(join(tmpdir(), 'sonde-bench-'));
  const file = join(dir, 'pipeline.config.yaml');
  writeFileSync(file, yaml);
  // SONDE_BENCH_CPU_PROF=DIR: profile every Sonde the benchmark starts, from readiness to exit.
  const prof = process.env.SONDE_BENCH_CPU_PROF;
  if (prof) mkdirSync(prof, { recursive: true });
  const proc = startSonde(['run', '--config', file], env, prof ? join(prof, `sonde-${Date.now()}.cpuprofile`) : undefined);
  const admin = `http://${adminAddress}`;
  try {
    await waitForOk(`${admin}/readyz`, proc, 30_000);
    if (prof) proc.child.kill('SIGUSR2');
  } catch (err) {
    await proc.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    proc, pid: proc.child.pid!, admin,
    async stop() {
      const res = await Promise.race([proc.stop('SIGTERM'), sleep(20_000).then(() => null)]);
      if (res === null) await proc.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Background {
  child: ChildProcess;
  pid: number;
  /** First line the process printed on stdout. */
  firstLine: string;
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts a long-running helper and waits for its first stdout line (or a pattern on stderr). */
export function startBackground(cmd: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; readyOnStderr?: RegExp; immediately?: boolean; timeoutMs?: number } = {}): Promise<Background> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let done = false;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const bg = (firstLine: string): Background => ({
      child, pid: child.pid!, firstLine, stderr: () => err,
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      },
    });
    if (options.immediately) {
      done = true;
      child.once('spawn', () => resolve(bg('')));
    }
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      child.kill('SIGKILL');
      reject(new Error(`${cmd} did not become ready: ${err.slice(-2000)}`));
    }, options.timeoutMs ?? 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (!done && !options.readyOnStderr && nl >= 0) {
        done = true;
        clearTimeout(timer);
        resolve(bg(out.slice(0, nl)));
      }
    });
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.length > 200_000) err = err.slice(-100_000);
      if (!done && options.readyOnStderr?.test(err)) {
        done = true;
        clearTimeout(timer);
        resolve(bg(''));
      }
    });
    child.once('exit', (code, signal) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`${cmd} exited (${code ?? signal}) before it was ready: ${err.slice(-2000)}`));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: ${r.status}`);
  return (await r.json()) as T;
}

export async function getText(url: string): Promise<string> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: ${r.status}`);
  return r.text();
}
