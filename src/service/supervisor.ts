import type { Backpressure } from '../component/types.js';
import { loadConfig } from '../config/load.js';
import { formatProblem } from '../config/problems.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { SondeError } from '../errors/index.js';
import { startAdminServer, type AdminServer } from '../telemetry/admin-server.js';
import type { Logger } from '../telemetry/logger.js';
import type { SelfTelemetry } from '../telemetry/self-telemetry.js';
import { Service } from './service.js';

export interface SupervisorOptions {
  configFile: string;
  logger: Logger;
  telemetry: SelfTelemetry;
  shutdownTimeoutMs: number;
  backpressure?: Backpressure;
}

/**
 * Owns the running Service across reloads, and the admin endpoint. A reload validates the new
 * file first; a bad file is rejected with every problem logged and the old pipelines keep running.
 */
export class Supervisor {
  private service: Service | undefined;
  private admin: AdminServer | undefined;
  private reloading: Promise<void> = Promise.resolve();
  private stopping = false;

  constructor(private readonly options: SupervisorOptions) {}

  get adminPort(): number | undefined {
    return this.admin?.port;
  }

  async start(config: ResolvedConfig): Promise<void> {
    const { logger, telemetry } = this.options;
    this.admin = await startAdminServer({
      address: config.telemetry.metricsAddress,
      telemetry,
      isReady: () => this.service?.state === 'running',
    });
    logger.info({ address: config.telemetry.metricsAddress }, 'admin endpoint listening');
    this.service = new Service(config, logger, telemetry, this.options.backpressure, this.options.shutdownTimeoutMs);
    try {
      await this.service.start();
    } catch (err) {
      await this.admin.close();
      throw err;
    }
  }

  /** Serialised: a SIGHUP during a reload waits for it. */
  reload(): Promise<void> {
    this.reloading = this.reloading.then(() => this.doReload());
    return this.reloading;
  }

  private async doReload(): Promise<void> {
    if (this.stopping) return;
    const { logger, telemetry, configFile } = this.options;
    let loaded;
    try {
      loaded = loadConfig(configFile);
    } catch (err) {
      loaded = { config: undefined, problems: [], error: err as Error };
    }
    if (!loaded.config) {
      telemetry.configReloads.labels('rejected').inc();
      const problems = loaded.problems.map(formatProblem);
      logger.error(
        { code: 'SONDE_CONFIG_RELOAD_REJECTED', problems, error: 'error' in loaded ? String(loaded.error) : undefined },
        'config reload rejected; the running pipelines are kept',
      );
      for (const line of problems) process.stderr.write(`${line}\n`);
      return;
    }
    const old = this.service;
    const oldConfig = old?.config;
    logger.info('reloading config: stopping the running pipelines');
    await old?.shutdown(this.options.shutdownTimeoutMs);
    if (loaded.config.telemetry.metricsAddress !== this.admin?.address) {
      await this.admin?.close();
      this.admin = await startAdminServer({
        address: loaded.config.telemetry.metricsAddress,
        telemetry,
        isReady: () => this.service?.state === 'running',
      });
    }
    const next = new Service(loaded.config, logger, telemetry, this.options.backpressure, this.options.shutdownTimeoutMs);
    try {
      await next.start();
      this.service = next;
      telemetry.configReloads.labels('applied').inc();
      logger.info('config reloaded');
    } catch (err) {
      telemetry.configReloads.labels('failed').inc();
      logger.error({ err }, 'new config failed to start; restoring the previous one');
      if (oldConfig) {
        this.service = new Service(oldConfig, logger, telemetry, this.options.backpressure, this.options.shutdownTimeoutMs);
        await this.service.start();
      }
    }
  }

  async shutdown(): Promise<void> {
    this.stopping = true;
    await this.reloading.catch(() => undefined);
    await this.service?.shutdown(this.options.shutdownTimeoutMs);
    await this.admin?.close();
  }
}

export function describeError(err: unknown): string {
  return err instanceof SondeError ? err.describe() : err instanceof Error ? err.message : String(err);
}
