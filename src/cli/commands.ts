import { FACTORIES } from '../components.js';
import { loadConfig, loadConfigOrThrow } from '../config/load.js';
import { formatProblem } from '../config/problems.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { createLogger } from '../telemetry/logger.js';
import { SelfTelemetry } from '../telemetry/self-telemetry.js';
import { Supervisor, describeError } from '../service/supervisor.js';
import { processMemoryPressure } from '../service/memory-pressure.js';
import { parseDuration } from '../config/units.js';
import { privilegeMessage } from './privilege-message.js';
import { sondeVersion } from './version.js';

export type Out = (line: string) => void;

export function validateCommand(file: string, out: Out, err: Out): number {
  let result;
  try {
    result = loadConfig(file);
  } catch (e) {
    err(describeError(e));
    return 1;
  }
  for (const p of result.problems) err(formatProblem(p));
  if (!result.config) {
    err(`${file}: ${result.problems.filter((p) => p.severity === 'error').length} error(s)`);
    return 1;
  }
  out(formatGraph(result.config));
  return 0;
}

export function formatGraph(config: ResolvedConfig): string {
  const lines = [`config: ${config.file}`, `admin endpoint: ${config.telemetry.metricsAddress}`, 'pipelines:'];
  for (const p of config.pipelines) {
    const procs = p.processors.length ? ` -> ${p.processors.join(' -> ')}` : '';
    lines.push(`  ${p.name}: [${p.receivers.join(', ')}]${procs} -> [${p.exporters.join(', ')}]`);
  }
  return lines.join('\n');
}

export function componentsCommand(out: Out): number {
  const rows = FACTORIES.map((f) => [f.kind, f.type, f.stability, f.signals.join(','), f.description]);
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length), 9));
  out(['KIND', 'TYPE', 'STABILITY', 'SIGNALS'].map((h, i) => h.padEnd(widths[i]!)).join('  ') + '  DESCRIPTION');
  for (const r of rows) out(r.slice(0, 4).map((c, i) => c.padEnd(widths[i]!)).join('  ') + '  ' + r[4]);
  return 0;
}

export function versionCommand(out: Out): number {
  out(`sonde ${sondeVersion()} (node ${process.version})`);
  return 0;
}

/**
 * Runs until SIGTERM/SIGINT. Resolves to the exit code. The signal handlers are in place before
 * start-up begins (loading eBPF programs takes seconds): a stop asked for during start-up is
 * carried out once start-up settles, a SIGHUP then reloads once running.
 */
export async function runCommand(file: string, shutdownTimeout: string, err: Out): Promise<number> {
  let loaded;
  try {
    loaded = loadConfigOrThrow(file);
  } catch (e) {
    err(describeError(e));
    return 1;
  }
  const { config, warnings } = loaded;
  for (const w of warnings) err(formatProblem(w));
  const logger = createLogger(config.telemetry.logLevel);
  const telemetry = new SelfTelemetry();
  const supervisor = new Supervisor({ configFile: file, logger, telemetry, shutdownTimeoutMs: parseDuration(shutdownTimeout), backpressure: processMemoryPressure });
  return new Promise<number>((resolve) => {
    let running = false;
    let stopSignal: NodeJS.Signals | undefined;
    let reloadPending = false;
    const finish = (code: number): void => {
      process.off('SIGTERM', onStop);
      process.off('SIGINT', onStop);
      process.off('SIGHUP', onReload);
      logger.flush?.();
      resolve(code);
    };
    const stop = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'stopping: intake closed, flushing pipelines');
      supervisor.shutdown().then(
        () => {
          logger.info('stopped');
          finish(0);
        },
        (e: unknown) => {
          logger.error({ err: e }, 'shutdown failed');
          finish(1);
        },
      );
    };
    function onStop(signal: NodeJS.Signals): void {
      if (stopSignal) {
        logger.warn({ signal }, 'second signal: exiting without waiting for the flush');
        finish(1);
        return;
      }
      stopSignal = signal;
      if (running) stop(signal);
      else logger.info({ signal }, 'signal during start-up: stopping as soon as start-up settles');
    }
    function onReload(): void {
      if (stopSignal) return;
      if (!running) {
        reloadPending = true;
        logger.info('SIGHUP during start-up: reloading once started');
        return;
      }
      logger.info('SIGHUP: reloading config');
      void supervisor.reload(); // never rejects: failures are logged with their code
    }
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
    process.on('SIGHUP', onReload);

    supervisor.start(config).then(
      () => {
        running = true;
        if (stopSignal) stop(stopSignal);
        else if (reloadPending) onReload();
      },
      (e: unknown) => {
        if (hasCode(e, 'SONDE_BPF_NO_PRIVILEGE')) for (const line of privilegeMessage()) err(line);
        err(`sonde: cannot start: ${describeError(e)}`);
        finish(1);
      },
    );
  });
}

/** True when `e` or any error in its cause chain carries `code`. */
function hasCode(e: unknown, code: string): boolean {
  for (let cur: unknown = e, depth = 0; cur instanceof Error && depth < 8; cur = cur.cause, depth++) {
    if ((cur as { code?: unknown }).code === code) return true;
  }
  return false;
}
