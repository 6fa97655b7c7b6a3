// The HTTP feature of the ebpf receiver (src/receivers/ebpf/feature.ts): kernel capture
// (http-capture.ts) feeding the HttpPipeline; the receiver schedules collection and shipping.

import { join } from 'node:path';
import type { ResourceMetrics, ResourceSpans } from '../../../pdata/types.js';
import { parseDuration } from '../../../config/units.js';
import type { EbpfFeature, FeatureContext } from '../feature.js';
import { resolveCgroupIds } from './cgroups.js';
import { HttpCapture } from './http-capture.js';
import { HttpPipeline } from './http-pipeline.js';
import { HTTP_DECODER_LABEL, HTTP_LOST_SLOTS, HTTP_MISSED_LABEL, HTTP_PROGRAM } from './event-layout.js';

export class HttpFeature implements EbpfFeature {
  readonly name = 'http';
  readonly pipeline: HttpPipeline;
  private capture: HttpCapture | undefined;
  private unflushedEvents = 0;

  constructor(private readonly ctx: FeatureContext) {
    const http = ctx.config.http;
    this.pipeline = new HttpPipeline({
      config: { ...http, spans: http.spans && ctx.signals.traces, metrics: http.metrics && ctx.signals.metrics },
      telemetry: ctx.telemetry,
      receiver: ctx.receiver,
    });
  }

  /** Loads and attaches http.bpf.o; throws a SondeError (SONDE_BPF_*) when the kernel refuses. */
  start(): void {
    if (this.capture) return;
    const { config, logger } = this.ctx;
    const handle = this.pipeline.handle;
    const capture = new HttpCapture({
      handler: (view, offset, length) => {
        this.unflushedEvents++;
        handle(view, offset, length);
      },
      logger,
      filters: {
        includePorts: config.include.ports,
        excludePorts: config.exclude.ports,
        includeProcesses: config.include.processes,
        excludeProcesses: config.exclude.processes,
        includePids: config.include.pids,
        excludePids: config.exclude.pids,
        includeCgroupIds: resolveCgroupIds(config.http.cgroups),
      },
      ringSize: config.ringBufferSize,
      wakeupBytes: config.wakeupThreshold,
      pollIntervalMs: config.pollIntervalMs,
      maxConnections: config.http.max_connections,
      pendingTimeoutNs: BigInt(Math.round(parseDuration(config.http.pending_timeout) * 1e6)),
      objectPath: join(this.ctx.objectDir, 'http.bpf.o'),
    });
    capture.start();
    this.capture = capture;
    // Every loss counter shows in /metrics from the start, at 0: absent and "nothing lost" differ.
    for (const program of [...HTTP_LOST_SLOTS, HTTP_MISSED_LABEL, HTTP_DECODER_LABEL]) this.ctx.telemetry.ebpfEventsLost.labels(program).inc(0);
    logger.info({ feature: 'http' }, 'eBPF HTTP capture: syscall tracepoints attached');
  }

  collectMetrics(): ResourceMetrics[] {
    this.capture?.drain();
    return this.pipeline.collectMetrics()?.resourceMetrics ?? [];
  }

  takeSpans(): ResourceSpans[] {
    return this.pipeline.takeSpans()?.resourceSpans ?? [];
  }

  flushStats(): void {
    const t = this.ctx.telemetry;
    if (this.unflushedEvents > 0) {
      t.ebpfEvents.labels(HTTP_PROGRAM).inc(this.unflushedEvents);
      this.unflushedEvents = 0;
    }
    this.capture?.collectLost((program, delta) => t.ebpfEventsLost.labels(program).inc(delta));
  }

  drain(): void {
    this.capture?.drain();
  }

  close(): void {
    this.capture?.close();
    this.capture = undefined;
  }
}
