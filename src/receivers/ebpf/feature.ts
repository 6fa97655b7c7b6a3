// What the ebpf receiver runs: one feature per capture (TCP, HTTP), each owning its BPF object,
// ring reader and aggregation. The receiver only schedules them and ships what they produce.
import type { ResourceMetrics, ResourceSpans } from '../../pdata/types.js';
import type { Logger } from '../../telemetry/logger.js';
import type { SelfTelemetry } from '../../telemetry/self-telemetry.js';
import type { ResolvedEbpfConfig } from './config.js';

export interface FeatureContext {
  readonly config: ResolvedEbpfConfig;
  readonly logger: Logger;
  readonly telemetry: SelfTelemetry;
  /** Receiver id (e.g. "ebpf"), for sonde_receiver_* labels. */
  readonly receiver: string;
  /** Directory holding the compiled objects (bpf/out). */
  readonly objectDir: string;
  /** Which signals have a pipeline downstream. */
  readonly signals: { readonly metrics: boolean; readonly traces: boolean };
}

export interface EbpfFeature {
  readonly name: string;
  /** Loads, attaches and starts reading. Throws a SondeError when the feature cannot run. */
  start(): void;
  /** Cumulative metrics since start (one ResourceMetrics per process). */
  collectMetrics?(): ResourceMetrics[];
  /** Spans finished since the last call. */
  takeSpans?(): ResourceSpans[];
  /** Pushes buffered counters to self-telemetry (events read, lost, rejected). */
  flushStats(): void;
  /** Reads whatever the ring holds now (at shutdown, before the last collect). */
  drain(): void;
  /** Detaches and frees everything. Idempotent. */
  close(): void;
}
