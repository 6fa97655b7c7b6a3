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
    const { logger } = this.options;
    this.admin = await this.startAdmin(config.telemetry.metricsAddress);
    logger.info({ address: config.telemetry.metricsAddress }, 'admin endpoint listening');
    this.service = this.createService(config);
    try {
      await this.service.start();
    } catch (err) {
      await this.admin.close();
      throw err;
    }
  }

  /**
   * Serialised: a SIGHUP during a reload waits for it. Never rejects: whatever goes wrong is
   * logged with a stable code, and the next reload runs regardless.
   */
  reload(): Promise<void> {
    this.reloading = this.reloading.then(() =>
      this.doReload().catch((err: unknown) => {
        this.options.telemetry.configReloads.labels('failed').inc();
        this.options.logger.error({ err, code: 'SONDE_CONFIG_RELOAD_FAILED' }, 'config reload failed');
      }),
    );
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
    const config = loaded.config;
    // A new admin address is bound before anything stops, so failing to bind it costs nothing.
    let newAdmin: AdminServer | undefined;
    if (config.telemetry.metricsAddress !== this.admin?.address) {
      try {
        newAdmin = await this.startAdmin(config.telemetry.metricsAddress);
      } catch (err) {
        telemetry.configReloads.labels('failed').inc();
        logger.error({ err, code: 'SONDE_CONFIG_RELOAD_FAILED' }, 'config reload failed: the new admin endpoint cannot listen; the running pipelines are kept');
        return;
      }
    }
    const old = this.service;
    const oldConfig = old?.config;
    const oldLevel = logger.level;
    logger.info('reloading config: stopping the running pipelines');
    await old?.shutdown(this.options.shutdownTimeoutMs);
    // Set before the new components are built: their child loggers take the level at creation.
    logger.level = config.telemetry.logLevel;
    const next = this.createService(config);
    this.service = next;
    try {
      await next.start();
    } catch (err) {
      telemetry.configReloads.labels('failed').inc();
      logger.level = oldLevel;
      await newAdmin?.close().catch(() => undefined);
      logger.error({ err, code: 'SONDE_CONFIG_RELOAD_FAILED' }, 'the new config failed to start; restoring the previous one');
      if (oldConfig) await this.restore(oldConfig);
      return;
    }
    if (newAdmin) {
      const previous = this.admin;
      this.admin = newAdmin;
      await previous?.close().catch((err: unknown) => logger.warn({ err }, 'closing the previous admin endpoint failed'));
      logger.info({ address: config.telemetry.metricsAddress }, 'admin endpoint listening');
    }
    telemetry.configReloads.labels('applied').inc();
    logger.info({ level: config.telemetry.logLevel }, 'config reloaded');
  }

  /**
   * Starts the previous config again after a new one failed. If that fails too (its port was
   * taken meanwhile, its file became unwritable), the admin endpoint keeps serving /metrics and
   * /healthz, /readyz answers 503, and the next SIGHUP tries again.
   */
  private async restore(config: ResolvedConfig): Promise<void> {
    const { logger } = this.options;
    const again = this.createService(config);
    this.service = again;
    try {
      await again.start();
      logger.info('previous config restored');
    } catch (err) {
      logger.error(
        { err, code: 'SONDE_CONFIG_RESTORE_FAILED' },
        'the previous config failed to start again: no pipeline is running; fix the config and send SIGHUP',
      );
    }
  }

  private createService(config: ResolvedConfig): Service {
    return new Service(config, this.options.logger, this.options.telemetry, this.options.backpressure, this.options.shutdownTimeoutMs);
  }

  private startAdmin(address: string): Promise<AdminServer> {
    return startAdminServer({ address, telemetry: this.options.telemetry, isReady: () => this.service?.state === 'running' });
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
