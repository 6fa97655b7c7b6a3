// The process-wide memory pressure signal: memory_limiter processors set it, receivers read it
// through CreateSettings.backpressure (the Service passes this object to every component).
// One process has one memory, so several limiters (one per pipeline) share one signal: while any
// of them is above its soft limit, receivers are asked to refuse (OTLP: 503 / UNAVAILABLE) or to
// drop and count (eBPF: sonde_ebpf_events_lost_total).
import type { Backpressure } from '../component/types.js';

export type MemoryLevel = 'ok' | 'soft' | 'hard';

export class MemoryPressure implements Backpressure {
  private readonly levels = new Map<string, MemoryLevel>();
  private refusing = 0;

  /** Records the level seen by one limiter (keyed by processor id and pipeline). */
  set(source: string, level: MemoryLevel): void {
    const before = this.levels.get(source) ?? 'ok';
    if (level === 'ok') this.levels.delete(source);
    else this.levels.set(source, level);
    this.refusing += (level !== 'ok' ? 1 : 0) - (before !== 'ok' ? 1 : 0);
  }

  /** A limiter that stops no longer holds the signal up. */
  clear(source: string): void {
    this.set(source, 'ok');
  }

  shouldRefuse(): boolean {
    return this.refusing > 0;
  }

  /** The highest level any limiter reports. */
  level(): MemoryLevel {
    let worst: MemoryLevel = 'ok';
    for (const l of this.levels.values()) if (l === 'hard' || worst === 'ok') worst = l;
    return worst;
  }
}

/** The one instance of this process: the CLI passes it to the Supervisor, limiters set it. */
export const processMemoryPressure = new MemoryPressure();
