// Graceful shutdown with the in-memory queue: SIGTERM while the backend is down. Exporters keep
// draining for 80 % of `sonde run --shutdown-timeout`, so a backend that comes back within that
// time still gets everything; one that does not is reported: the items left are counted as failed
// and logged with SONDE_SHUTDOWN_TIMEOUT. Either way Sonde exits 0.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import type { SondeProcess } from '../helpers/sonde-process.js';
import { exportUntilAccepted, metrics, startAndWait, value, writeTracesConfig, type Ports } from './harness.js';
import { spanIdOf } from './fixtures.js';
import { OtlpSink } from './otlp-sink.js';

const BATCHES = 3;
const SPANS = 5;

async function startWithDeadBackend(dir: string, backendPort: number, shutdownTimeout: string): Promise<{ sonde: SondeProcess; ports: Ports }> {
  const { file: config, ports } = await writeTracesConfig(dir, {
    exporter: 'otlphttp',
    exporterSettings: [
      `endpoint: http://127.0.0.1:${backendPort}`,
      'compression: none',
      'retry_on_failure: { enabled: true, initial_interval: 100ms, max_interval: 300ms, max_elapsed_time: 0 }',
    ],
    logLevel: 'info',
  });
  const sonde = await startAndWait(config, ports, ['--shutdown-timeout', shutdownTimeout]);
  for (let b = 0; b < BATCHES; b++) await exportUntilAccepted(ports, b * SPANS, SPANS);
  expect(value(await metrics(ports), 'sonde_receiver_accepted_items_total', { receiver: 'otlp' })).toBe(BATCHES * SPANS);
  return { sonde, ports };
}

describe('graceful shutdown with the backend down (in-memory queue)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sonde-drain-'));
  const sink = new OtlpSink();
  const procs: SondeProcess[] = [];
  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null) await p.stop('SIGKILL');
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps draining for 80 % of --shutdown-timeout: a backend back 6.5 s after SIGTERM gets every span', async () => {
    const backendPort = await freePort();
    const { sonde } = await startWithDeadBackend(dir, backendPort, '30s');
    procs.push(sonde);
    const exited = sonde.stop('SIGTERM');
    // Past the 5 s an exporter would drain without a deadline: only a drain that follows the
    // 30 s flag (24 s) is still retrying when the backend appears.
    await new Promise((r) => setTimeout(r, 6500));
    await sink.start(backendPort);
    const { code } = await exited;
    expect(code).toBe(0);
    const ids = Array.from({ length: BATCHES * SPANS }, (_, i) => spanIdOf(i));
    expect(ids.filter((id) => !sink.seen.has(id))).toEqual([]);
    expect(sonde.stdout() + sonde.stderr()).not.toContain('SONDE_SHUTDOWN_TIMEOUT');
  }, 90_000);

  it('counts what is left when the drain ends and logs SONDE_SHUTDOWN_TIMEOUT, then exits 0', async () => {
    const deadPort = await freePort(); // nothing listens there for the whole test
    const { sonde } = await startWithDeadBackend(dir, deadPort, '2s');
    procs.push(sonde);
    const { code } = await sonde.stop('SIGTERM');
    expect(code).toBe(0);
    const logs = (sonde.stdout() + sonde.stderr()).split('\n').filter((l) => l.includes('SONDE_SHUTDOWN_TIMEOUT'));
    // The exporter's own account: every accepted span is reported as not sent.
    const counted = logs.map((l) => JSON.parse(l) as { exporter?: string; items?: number }).filter((l) => l.exporter === 'otlphttp');
    expect(counted.reduce((n, l) => n + (l.items ?? 0), 0)).toBe(BATCHES * SPANS);
  }, 90_000);
});
