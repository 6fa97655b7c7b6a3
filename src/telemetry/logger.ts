import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** JSON logs to stderr so stdout stays free for the debug exporter and CLI output. */
export function createLogger(level: LogLevel = 'info', destination: number = 2): Logger {
  return pino({ level, base: { service: 'sonde' } }, pino.destination({ fd: destination, sync: true }));
}

/** A logger that drops everything, for tests and library use. */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' });
}
