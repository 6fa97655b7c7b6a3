// Runs wrk (bounded by duration) and parses its report: requests, rps, latency percentiles.
import { spawn } from 'node:child_process';

export interface WrkResult {
  requests: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

function toMs(v: string, unit: string): number {
  const n = Number(v);
  switch (unit) {
    case 'us': return n / 1000;
    case 'ms': return n;
    case 's': return n * 1000;
    case 'm': return n * 60_000;
    default: return Number.NaN;
  }
}

export function parseWrk(out: string): WrkResult {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m),/.exec(out);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const pct = (p: string): number => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    return m ? toMs(m[1]!, m[2]!) : Number.NaN;
  };
  if (!total || !rps) throw new Error(`cannot parse wrk output:\n${out}`);
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const errors = (errs ? errs.slice(1).reduce((n, x) => n + Number(x), 0) : 0) + (non2xx ? Number(non2xx[1]) : 0);
  return { requests: Number(total[1]), seconds: toMs(total[2]!, total[3]!) / 1000, rps: Number(rps[1]), p50Ms: pct('50'), p99Ms: pct('99'), errors };
}

export function runWrk(url: string, options: { threads: number; connections: number; seconds: number }): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', [`-t${options.threads}`, `-c${options.connections}`, `-d${options.seconds}s`, '--latency', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), (options.seconds + 30) * 1000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`wrk exited ${code}: ${out}`));
      try {
        resolve(parseWrk(out));
      } catch (e) {
        reject(e);
      }
    });
  });
}
