import { FACTORIES } from '../components.js';
import { loadConfig, loadConfigOrThrow } from '../config/load.js';
import { formatProblem } from '../config/problems.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { createLogger } from '../telemetry/logger.js';
import { SelfTelemetry } from '../telemetry/self-telemetry.js';
import { Supervisor, describeError } from '../service/supervisor.js';
import { processMemoryPressure } from '../service/memory-pressure.js';
import { parseDuration } from '../config/units.js';
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

/** Runs until SIGTERM/SIGINT. Resolves to the exit code. */
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
  try {
    await supervisor.start(config);
  } catch (e) {
    if (hasCode(e, 'SONDE_BPF_NO_PRIVILEGE')) {
      err('sonde: not enough privileges: the ebpf receiver loads programs into the kernel, which needs root');
      err('       (or CAP_BPF + CAP_PERFMON). Run it as root, e.g. `sudo ./bin/sonde run`; `sonde doctor` lists what is missing.');
    }
    err(`sonde: cannot start: ${describeError(e)}`);
    logger.flush?.();
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting without waiting for the flush');
        resolve(1);
        return;
      }
      stopping = true;
      logger.info({ signal }, 'stopping: intake closed, flushing pipelines');
      supervisor.shutdown().then(
        () => {
          logger.info('stopped');
          resolve(0);
        },
        (e: unknown) => {
          logger.error({ err: e }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('SIGHUP', () => {
      logger.info('SIGHUP: reloading config');
      void supervisor.reload();
    });
  });
}

/** True when `e` or any error in its cause chain carries `code`. */
function hasCode(e: unknown, code: string): boolean {
  for (let cur: unknown = e, depth = 0; cur instanceof Error && depth < 8; cur = cur.cause, depth++) {
    if ((cur as { code?: unknown }).code === code) return true;
  }
  return false;
}
