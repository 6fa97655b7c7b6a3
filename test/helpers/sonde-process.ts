import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const SONDE_BIN = fileURLToPath(new URL('../../bin/sonde', import.meta.url));

export interface SondeProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
  /** Sends a signal and waits for exit; returns the code and how long it took. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | string; ms: number }>;
}

export interface StartOptions {
  /**
   * A command to run Sonde under (e.g. `unshare ... -- sh -c SCRIPT sh`); `node bin/sonde ARGS` is
   * appended to it. It should exec into them, so that the child's pid (signals, stop()) is Sonde's.
   */
  wrapper?: string[];
}

/** Runs bin/sonde with arguments; output is collected for assertions. */
export function startSonde(args: string[], env: NodeJS.ProcessEnv = {}, options: StartOptions = {}): SondeProcess {
  const [command, ...argv] = [...(options.wrapper ?? []), process.execPath, SONDE_BIN, ...args];
  const child = spawn(command!, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      const t0 = Date.now();
      child.kill(signal);
      const code = await exited;
      return { code, ms: Date.now() - t0 };
    },
  };
}

/** Polls a URL until it answers 200, or fails after `timeoutMs` with what Sonde printed. */
export async function waitForOk(url: string, proc: SondeProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | string | undefined;
  void proc.exited.then((c) => (exitCode = c));
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`sonde exited (${exitCode}) before ${url} was ready:\n${proc.stderr()}`);
    try {
      const r = await fetch(url);
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${url}:\n${proc.stderr()}`);
}

/** Value of one Prometheus sample from a /metrics text body (sum over matching label sets). */
export function promValue(body: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  let found = false;
  for (const line of body.split('\n')) {
    if (!line.startsWith(name)) continue;
    // Label values may contain `}` (http_route="/users/{id}"), so match quoted values as units.
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const set = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => set[k] === v)) {
      total += Number(m[3]);
      found = true;
    }
  }
  return found ? total : NaN;
}
