import type { CreateSettings } from '../../../src/component/types.js';
import { parseComponentId } from '../../../src/component/id.js';
import { createSilentLogger, type Logger } from '../../../src/telemetry/logger.js';
import { SelfTelemetry } from '../../../src/telemetry/self-telemetry.js';

export interface LogRecord {
  level: string;
  obj: Record<string, unknown>;
  msg: string;
}

/** A pino-shaped logger that records warn/error calls, for "reported once" assertions. */
function recordingLogger(records: LogRecord[]): Logger {
  const base = createSilentLogger();
  const rec =
    (level: string) =>
    (obj: unknown, msg?: string): void => {
      if (typeof obj === 'string') records.push({ level, obj: {}, msg: obj });
      else records.push({ level, obj: (obj ?? {}) as Record<string, unknown>, msg: msg ?? '' });
    };
  return new Proxy(base, {
    get(target, prop, receiver) {
      if (prop === 'warn' || prop === 'error' || prop === 'info' || prop === 'debug') return rec(prop);
      if (prop === 'child') return () => recordingLogger(records);
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
}

export interface TestSettings {
  settings: CreateSettings;
  telemetry: SelfTelemetry;
  logs: LogRecord[];
}

export function testSettings(key: string): TestSettings {
  const telemetry = new SelfTelemetry({ processMetrics: false });
  const logs: LogRecord[] = [];
  const settings: CreateSettings = {
    id: parseComponentId(key)!,
    logger: recordingLogger(logs),
    telemetry,
    configDir: process.cwd(),
    backpressure: { shouldRefuse: () => false },
  };
  return { settings, telemetry, logs };
}

/** Current value of one of Sonde's own counters for an exporter. */
export async function counterValue(telemetry: SelfTelemetry, name: string, exporter: string): Promise<number> {
  const metric = telemetry.registry.getSingleMetric(name);
  if (!metric) return 0;
  const data = await metric.get();
  return data.values.filter((v) => v.labels['exporter'] === exporter).reduce((n, v) => n + v.value, 0);
}
