// `sonde run` through the hard parts of its life: a reload whose new config fails at start (and
// whose old config then fails too), a stop signal that arrives while start-up is still running,
// and a log level changed by SIGHUP. Each drives the real CLI process.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { pollValue, waitUntil } from '../helpers/poll.js';
import { promValue, startSonde, waitForOk, type SondeProcess } from '../helpers/sonde-process.js';
import { postSpans, spansInFile } from './run-fixtures.js';

interface Options {
  otlpPort: number;
  adminPort: number;
  out: string;
  level?: string;
}

function config(o: Options): string {
  return `receivers:
  otlp:
    protocols:
      grpc: { enabled: false }
      http: { endpoint: "127.0.0.1:${o.otlpPort}" }
exporters:
  file:
    path: ${o.out}
service:
  telemetry:
    logs: { level: ${o.level ?? 'info'} }
    metrics: { address: "127.0.0.1:${o.adminPort}" }
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
`;
}

async function status(url: string): Promise<number> {
  return (await fetch(url)).status;
}

async function metric(adminPort: number, name: string, labels: Record<string, string>): Promise<number> {
  return promValue(await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text(), name, labels);
}

/** Sonde's JSON log records (stderr also carries plain lines: problems, the CLI's messages). */
function logs(proc: SondeProcess): Array<{ level: number; msg: string; code?: string }> {
  return proc
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string; code?: string });
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

describe('sonde run lifecycle', () => {
  let proc: SondeProcess | undefined;
  let blocker: Server | undefined;
  afterEach(async () => {
    if (proc && proc.child.exitCode === null && proc.child.signalCode === null) await proc.stop('SIGKILL');
    proc = undefined;
    await new Promise((r) => (blocker ? blocker.close(r) : r(undefined)));
    blocker = undefined;
  });

  it('survives a reload whose new config fails at start, restores the old one, survives the old one failing too, and applies a later SIGHUP', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sonde-reload-fail-'));
    const adminPort = await freePort();
    const oldPort = await freePort();
    const newPort = await freePort();
    const a = join(dir, 'a.jsonl');
    const b = join(dir, 'b.jsonl');
    const file = join(dir, 'sonde.yaml');
    const admin = `http://127.0.0.1:${adminPort}`;
    writeFileSync(file, config({ otlpPort: oldPort, adminPort, out: a }));
    proc = startSonde(['run', '--config', file]);
    await waitForOk(`${admin}/readyz`, proc);
    expect(await postSpans(oldPort, 3)).toBe(200);

    // 1. The new config is valid but its receiver port is taken: it fails at start, the old
    //    pipelines come back and keep serving.
    blocker = await listen(newPort);
    writeFileSync(file, config({ otlpPort: newPort, adminPort, out: b }));
    proc.child.kill('SIGHUP');
    expect(await pollValue(() => metric(adminPort, 'sonde_config_reloads_total', { result: 'failed' }), (v) => v === 1, 15_000)).toBe(1);
    await waitUntil('log "previous config restored"', () => logs(proc!).some((l) => l.msg === 'previous config restored'), 10_000);
    expect(logs(proc).filter((l) => l.code === 'SONDE_CONFIG_RELOAD_FAILED')).toHaveLength(1);
    expect(await status(`${admin}/readyz`)).toBe(200);
    expect(await postSpans(oldPort, 2)).toBe(200);
    expect(spansInFile(a).spans).toBe(5);

    // 2. Again, and this time the old config cannot start either (its output path became a
    //    directory): no crash, the admin endpoint stays up and says not ready.
    rmSync(a);
    mkdirSync(a);
    proc.child.kill('SIGHUP');
    expect(await pollValue(() => metric(adminPort, 'sonde_config_reloads_total', { result: 'failed' }), (v) => v === 2, 15_000)).toBe(2);
    await waitUntil('a SONDE_CONFIG_RESTORE_FAILED log', () => logs(proc!).some((l) => l.code === 'SONDE_CONFIG_RESTORE_FAILED'), 10_000);
    expect(logs(proc).filter((l) => l.code === 'SONDE_CONFIG_RESTORE_FAILED')).toHaveLength(1);
    expect(proc.child.exitCode).toBeNull();
    expect(await status(`${admin}/healthz`)).toBe(200);
    expect(await status(`${admin}/readyz`)).toBe(503);
    expect(proc.stderr()).not.toMatch(/unhandled|UnhandledPromiseRejection/i);

    // 3. The port is free again: the next SIGHUP applies the new config.
    await new Promise((r) => blocker!.close(r));
    blocker = undefined;
    proc.child.kill('SIGHUP');
    expect(await pollValue(() => metric(adminPort, 'sonde_config_reloads_total', { result: 'applied' }), (v) => v === 1, 15_000)).toBe(1);
    expect(await status(`${admin}/readyz`)).toBe(200);
    expect(await postSpans(newPort, 4)).toBe(200);
    const { code } = await proc.stop('SIGTERM');
    expect(code).toBe(0);
    expect(spansInFile(b).spans).toBe(4);
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('stops cleanly with exit 0 on %s sent while start-up is still running', async (signal) => {
    const dir = mkdtempSync(join(tmpdir(), 'sonde-early-signal-'));
    const adminPort = await freePort();
    // Opening a FIFO for writing blocks until a reader opens it: the file exporter's start()
    // hangs exactly as long as the test wants, like a slow eBPF load.
    const fifo = join(dir, 'out.fifo');
    execFileSync('mkfifo', [fifo]);
    const file = join(dir, 'sonde.yaml');
    writeFileSync(file, config({ otlpPort: await freePort(), adminPort, out: fifo }));
    proc = startSonde(['run', '--config', file]);
    await waitUntil('log "admin endpoint listening"', () => logs(proc!).some((l) => l.msg === 'admin endpoint listening'), 20_000);
    expect(await status(`http://127.0.0.1:${adminPort}/readyz`)).toBe(503);
    proc.child.kill(signal);
    await waitUntil('log "signal during start-up"', () => logs(proc!).some((l) => l.msg.startsWith('signal during start-up')), 10_000);
    expect(proc.child.exitCode).toBeNull();
    // Let start-up finish: Sonde must now stop on its own, flushing, and exit 0.
    const reader = await open(fifo, 'r');
    try {
      const code = await proc.exited;
      expect(code).toBe(0);
    } finally {
      await reader.close();
    }
    const msgs = logs(proc).map((l) => l.msg);
    expect(msgs).toContain('pipelines started');
    expect(msgs).toContain('stopped');
  });

  it('applies a new service.telemetry.logs.level on SIGHUP', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sonde-log-level-'));
    const adminPort = await freePort();
    const otlpPort = await freePort();
    const out = join(dir, 'out.jsonl');
    const file = join(dir, 'sonde.yaml');
    const reloaded = (): number => logs(proc!).filter((l) => l.msg === 'config reloaded').length;
    writeFileSync(file, config({ otlpPort, adminPort, out, level: 'warn' }));
    proc = startSonde(['run', '--config', file]);
    await waitForOk(`http://127.0.0.1:${adminPort}/readyz`, proc);
    // At warn, the info-level start-up lines are not written.
    expect(logs(proc).filter((l) => l.level < 40)).toEqual([]);

    writeFileSync(file, config({ otlpPort, adminPort, out, level: 'debug' }));
    proc.child.kill('SIGHUP');
    expect(await pollValue(() => metric(adminPort, 'sonde_config_reloads_total', { result: 'applied' }), (v) => v === 1, 15_000)).toBe(1);
    await pollValue(reloaded, (n) => n === 1, 5_000);
    expect(reloaded()).toBe(1);
    expect(logs(proc).some((l) => l.msg === 'pipelines started' && l.level === 30)).toBe(true);

    writeFileSync(file, config({ otlpPort, adminPort, out, level: 'error' }));
    proc.child.kill('SIGHUP');
    expect(await pollValue(() => metric(adminPort, 'sonde_config_reloads_total', { result: 'applied' }), (v) => v === 2, 15_000)).toBe(2);
    // The second reload is applied (counted) but, at error, announces nothing at info.
    const infoBefore = logs(proc).filter((l) => l.level === 30).length;
    expect(await postSpans(otlpPort, 1)).toBe(200);
    proc.child.kill('SIGHUP'); // a third reload at error: only errors would be written
    expect(await pollValue(() => metric(adminPort, 'sonde_config_reloads_total', { result: 'applied' }), (v) => v === 3, 15_000)).toBe(3);
    expect(reloaded()).toBe(1);
    expect(logs(proc).filter((l) => l.level === 30).length).toBe(infoBefore);
    const { code } = await proc.stop('SIGTERM');
    expect(code).toBe(0);
  });
});
