// Child processes for benchmarks: run to completion collecting JSON lines, and CPU time of a pid.
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Runs a command to completion; returns stdout's JSON lines. Rejects with stderr on failure. */
export function runJsonLines(cmd: string, args: readonly string[], options: SpawnOptions & { timeoutMs: number }): Promise<Record<string, number>[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`${cmd} ${args.join(' ')} exited with ${code ?? signal}: ${err.trim().split('\n').slice(-8).join('\n')}`));
        return;
      }
      const lines = out.split('\n').filter((l) => l.startsWith('{'));
      resolve(lines.map((l) => JSON.parse(l) as Record<string, number>));
    });
  });
}

/** Runs a command synchronously, inheriting stderr; throws when it fails. Returns stdout. */
export function must(cmd: string, args: readonly string[], options: SpawnOptions = {}): string {
  const r = spawnSync(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal ?? r.error?.message})`);
  return String(r.stdout);
}

const CLK_TCK = 100;

/** utime + stime of a process (all its threads), in seconds, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised comm (which may hold spaces): state is field 3, utime 14, stime 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
}

/** Resident set size of a process in bytes, from /proc/<pid>/status (VmRSS). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}
