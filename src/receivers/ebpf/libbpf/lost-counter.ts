// Reads the per-program lost-event counters (`sonde_lost`, bpf/common.h) and turns their growth
// into increments of sonde_ebpf_events_lost_total{program}.
import type { BpfObject, BpfMap } from './bpf-object.js';
import { possibleCpus } from './bpf-object.js';

export class LostCounter {
  private readonly map: BpfMap;
  private readonly cpus: number;
  private readonly value: Uint8Array;
  private readonly values: DataView;
  private readonly key = new Uint8Array(4);
  private readonly seen: number[];

  /** `slots[i]` names the program that counts into slot i. */
  constructor(obj: BpfObject, private readonly slots: readonly string[]) {
    this.map = obj.map('sonde_lost');
    this.cpus = possibleCpus();
    this.value = new Uint8Array(8 * this.cpus);
    this.values = new DataView(this.value.buffer);
    this.seen = slots.map(() => 0);
  }

  /** Total lost so far in one slot (sum over CPUs). */
  read(slot: number): number {
    new DataView(this.key.buffer).setUint32(0, slot, true);
    if (!this.map.lookup(this.key, this.value)) return 0;
    let sum = 0;
    for (let c = 0; c < this.cpus; c++) sum += Number(this.values.getBigUint64(c * 8, true));
    return sum;
  }

  /** Calls `report(program, delta)` for every slot that grew since the last call. */
  collect(report: (program: string, delta: number) => void): void {
    for (let i = 0; i < this.slots.length; i++) {
      const total = this.read(i);
      const delta = total - this.seen[i]!;
      if (delta > 0) {
        this.seen[i] = total;
        report(this.slots[i]!, delta);
      }
    }
  }
}
