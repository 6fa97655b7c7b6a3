// Routes libbpf's log (libbpf_set_print) to Sonde's logger. libbpf passes printf-style format +
// va_list; vsnprintf from libc formats it. The callback is registered once per process; the
// logger it writes to can be swapped. The last lines are kept so a failed load can quote the
// verifier's complaint in its error message.
import koffi from 'koffi';
import type { Logger } from '../../../telemetry/logger.js';
import { getLibbpf, getLibc } from './bindings.js';

const LIBBPF_WARN = 0;
const LIBBPF_INFO = 1;

let installed = false;
let demoteWarnings = false;
let sink: Logger | undefined;
const recent: string[] = [];
const RECENT_MAX = 40;
const buf = Buffer.alloc(4096);

/**
 * Sends libbpf's messages to `logger` from now on (warn -> warn, info -> debug, debug -> trace).
 * Without a logger, installs the hook (so libbpf never writes to stderr) and keeps the current sink.
 */
export function routeLibbpfLog(logger?: Logger): void {
  if (logger) sink = logger;
  if (installed) return;
  const lib = getLibbpf();
  const libc = getLibc();
  const cb = koffi.register((level: number, fmt: string | null, args: bigint | null): number => {
    if (fmt === null) return 0;
    let n = libc.vsnprintf(buf, buf.length, fmt, args) as number;
    if (n < 0) return 0;
    if (n > buf.length - 1) n = buf.length - 1;
    const line = buf.toString('utf8', 0, n).replace(/\n+$/, '');
    if (line.length === 0) return 0;
    if (level <= LIBBPF_INFO) {
      recent.push(line);
      if (recent.length > RECENT_MAX) recent.shift();
    }
    const log = sink;
    if (!log) return 0;
    if (level === LIBBPF_WARN && !demoteWarnings) log.warn({ libbpf: true }, line);
    else if (level === LIBBPF_WARN) log.debug({ libbpf: true }, line);
    else if (level === LIBBPF_INFO) log.debug({ libbpf: true }, line);
    else log.trace({ libbpf: true }, line);
    return 0;
  }, koffi.pointer(lib.printFnType));
  lib.libbpf_set_print(cb);
  installed = true;
}

/**
 * Runs `fn` with libbpf's warnings logged at debug level: for probing, where a refusal is an
 * expected answer (the hook ladder, `sonde doctor`), not a problem to shout about.
 */
export function withQuietLibbpf<T>(fn: () => T): T {
  const before = demoteWarnings;
  demoteWarnings = true;
  try {
    return fn();
  } finally {
    demoteWarnings = before;
  }
}

/** Marks the start of an operation whose libbpf messages an error may quote. */
export function markLibbpfLog(): number {
  recent.length = 0;
  return 0;
}

/** The warn/info lines libbpf printed since markLibbpfLog(), last ones first trimmed to `max`. */
export function recentLibbpfLog(max = 12): string[] {
  return recent.slice(-max);
}
