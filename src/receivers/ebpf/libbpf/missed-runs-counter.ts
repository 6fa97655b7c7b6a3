// Turns the kernel's per-program `recursion_misses` (runs it skipped because another kprobe or
// tracepoint BPF program was running on that CPU) into increments of
// sonde_ebpf_events_lost_total{program}: such skips leave no other trace.
import type { BpfProgram } from './bpf-object.js';

export interface MissedRunsGroup {
  /** The `program` label the group's skipped runs are reported under. */
  label: string;
  programs: readonly BpfProgram[];
}

export class MissedRunsCounter {
  private readonly seen: number[];
  private readonly info = new Uint8Array(256);

  /** Misses from before this call (none expected) are not reported: counting starts now. */
  constructor(private readonly groups: readonly MissedRunsGroup[]) {
    this.seen = groups.map((g) => this.total(g));
  }

  get labels(): string[] {
    return this.groups.map((g) => g.label);
  }

  /** Calls `report(label, delta)` for every group whose programs skipped runs since the last call. */
  collect(report: (label: string, delta: number) => void): void {
    for (let i = 0; i < this.groups.length; i++) {
      const total = this.total(this.groups[i]!);
      const delta = total - this.seen[i]!;
      if (delta > 0) {
        this.seen[i] = total;
        report(this.groups[i]!.label, delta);
      }
    }
  }

  private total(group: MissedRunsGroup): number {
    let n = 0;
    for (const p of group.programs) n += p.recursionMisses(this.info);
    return n;
  }
}
