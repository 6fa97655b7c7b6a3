import type { Backpressure } from '../component/types.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { SondeError } from '../errors/index.js';
import type { Logger } from '../telemetry/logger.js';
import type { SelfTelemetry } from '../telemetry/self-telemetry.js';
import { buildGraph, type BuiltGraph } from './graph.js';

export type ServiceState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

const alwaysAccept: Backpressure = { shouldRefuse: () => false };

/**
 * One set of running pipelines. Start order: exporters, then processors from the end of each
 * pipeline, then receivers, so nothing is produced before its consumers are ready; shutdown is
 * the reverse, so intake stops first and everything buffered flows down before exporters close.
 */
export class Service {
  private graph: BuiltGraph | undefined;
  private stateValue: ServiceState = 'created';
  private shutdownPromise: Promise<void> | undefined;

  constructor(
    readonly config: ResolvedConfig,
    private readonly logger: Logger,
    private readonly telemetry: SelfTelemetry,
    private readonly backpressure: Backpressure = alwaysAccept,
    private readonly shutdownTimeoutMs = 10_000,
  ) {}

  get state(): ServiceState {
    return this.stateValue;
  }

  async start(): Promise<void> {
    if (this.stateValue !== 'created') throw new Error(`service already ${this.stateValue}`);
    this.stateValue = 'starting';
    this.graph = buildGraph(this.config, {
      logger: this.logger,
      telemetry: this.telemetry,
      backpressure: this.backpressure,
      shutdownTimeoutMs: this.shutdownTimeoutMs,
    });
    const started: Array<{ shutdown(): Promise<void> }> = [];
    const steps: Array<[string, { start(): Promise<void>; shutdown(): Promise<void> }]> = [
      ...this.graph.exporters.map((e) => [`exporter ${e.key}`, e.component] as [string, typeof e.component]),
      ...[...this.graph.processors].reverse().map((p) => [`processor ${p.key} (pipeline ${p.pipeline})`, p.component] as [string, typeof p.component]),
      ...this.graph.receivers.map((r) => [`receiver ${r.key}`, r.component] as [string, typeof r.component]),
    ];
    for (const [name, component] of steps) {
      try {
        await component.start();
        started.push(component);
      } catch (err) {
        this.logger.error({ err, component: name }, 'component failed to start; stopping the others');
        for (const c of started.reverse()) await c.shutdown().catch(() => undefined);
        this.stateValue = 'stopped';
        const detail = err instanceof SondeError ? err.describe() : (err as Error).message;
        throw new SondeError('SONDE_COMPONENT_START_FAILED', `${name} failed to start: ${detail}`, { cause: err });
      }
    }
    this.stateValue = 'running';
    this.logger.info({ pipelines: this.config.pipelines.map((p) => p.name) }, 'pipelines started');
  }

  /** Idempotent; safe before start(). Gives up waiting after deadlineMs and reports it. */
  shutdown(deadlineMs = this.shutdownTimeoutMs): Promise<void> {
    this.shutdownPromise ??= this.doShutdown(deadlineMs);
    return this.shutdownPromise;
  }

  private async doShutdown(deadlineMs: number): Promise<void> {
    const graph = this.graph;
    this.stateValue = 'stopping';
    if (!graph) {
      this.stateValue = 'stopped';
      return;
    }
    // Intake first, then processors in pipeline order (each flushes into the next), then every
    // exporter at once: they drain independently, each within its share of the deadline.
    const stages = [
      ...graph.receivers.map((r) => [r.component]),
      ...graph.processors.map((p) => [p.component]),
      graph.exporters.map((e) => e.component),
    ];
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((res) => {
      timer = setTimeout(() => res('timeout'), deadlineMs);
      timer.unref();
    });
    const work = (async () => {
      for (const stage of stages) {
        await Promise.all(
          stage.map((c) => c.shutdown().catch((err: unknown) => this.logger.warn({ err }, 'component shutdown failed'))),
        );
      }
    })();
    const outcome = await Promise.race([work.then(() => 'done' as const), deadline]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.logger.error({ code: 'SONDE_SHUTDOWN_TIMEOUT', deadlineMs }, 'pipelines did not flush before the shutdown deadline');
    }
    this.stateValue = 'stopped';
  }
}
