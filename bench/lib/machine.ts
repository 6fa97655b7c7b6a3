// What the figures were measured on: printed with every result and written to docs/benchmarks.md.
import { cpus, loadavg } from 'node:os';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export interface Machine {
  nproc: number;
  cpuModel: string;
  kernel: string;
  node: string;
  /** 1-minute load average when the run started: how busy the shared machine was. */
  loadAvg1: number;
}

function kernelRelease(): string {
  try {
    return readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

export function machine(): Machine {
  return {
    nproc: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    kernel: kernelRelease(),
    node: process.version,
    loadAvg1: Number(loadavg()[0]!.toFixed(2)),
  };
}

export function describeMachine(m: Machine): string {
  return `${m.nproc} x ${m.cpuModel}, Linux ${m.kernel}, Node ${m.node}, load average ${m.loadAvg1} at start`;
}
