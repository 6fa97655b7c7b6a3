// The persistent queue against a real backend: `sonde run` forwards OTLP spans to Jaeger v2
// (badger storage, so Jaeger keeps what it stored across its own restarts) through the `otlp`
// gRPC exporter with `sending_queue.storage_dir`. Jaeger is stopped and started several times,
// and Sonde is killed with SIGKILL while Jaeger is down and restarted on the same storage_dir.
// Every span must be in Jaeger at least once; duplicates (at-least-once) are counted and printed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pollValue } from '../helpers/poll.js';
import type { SondeProcess } from '../helpers/sonde-process.js';
import { Jaeger, jaegerAvailable } from '../otlp/jaeger.js';
import { exportUntilAccepted, metrics, startAndWait, value, writeTracesConfig } from './harness.js';
import { spanIdOf, TRACE_ID } from './fixtures.js';

const SPANS_PER_REQUEST = 10;
const REQUESTS_PER_STEP = 5;

describe.skipIf(!jaegerAvailable())('persistent queue with a real backend (Jaeger v2, badger)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sonde-persist-jaeger-'));
  const procs: SondeProcess[] = [];
  let jaeger: Jaeger | undefined;
  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) await p.stop('SIGKILL');
    await jaeger?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every span reaches Jaeger at least once across Jaeger restarts and a SIGKILL of Sonde; duplicates counted', async () => {
    // The ingest tap counts every copy Jaeger accepted: its query API and badger hide duplicates.
    jaeger = await Jaeger.create('badger', { tap: true });
    await jaeger.start();
    const { file: config, ports } = await writeTracesConfig(dir, {
      exporter: 'otlp/jaeger',
      exporterSettings: [
        `endpoint: ${jaeger.grpcEndpoint}`,
        'tls: { insecure: true }',
        'retry_on_failure: { enabled: true, initial_interval: 200ms, max_interval: 1s, max_elapsed_time: 0 }',
        `sending_queue: { enabled: true, storage_dir: ${join(dir, 'queue')} }`,
      ],
      logLevel: 'warn',
    });
    let sonde = await startAndWait(config, ports);
    procs.push(sonde);
    let next = 0;
    const send = async (): Promise<void> => {
      for (let i = 0; i < REQUESTS_PER_STEP; i++) {
        await exportUntilAccepted(ports, next, SPANS_PER_REQUEST);
        next += SPANS_PER_REQUEST;
      }
    };
    const steps: string[] = [];

    await send(); // Jaeger up
    await jaeger.stop();
    steps.push('Jaeger stopped while 50 spans arrive');
    await send();
    await jaeger.start();
    await send();
    await jaeger.stop();
    steps.push('Jaeger stopped, 50 spans queued on disk, Sonde killed with SIGKILL and restarted');
    await send();
    const queued = value(await metrics(ports), 'sonde_exporter_queue_size', { exporter: 'otlp/jaeger' });
    await sonde.stop('SIGKILL');
    sonde = await startAndWait(config, ports); // same storage_dir
    procs.push(sonde);
    const recovered = value(await metrics(ports), 'sonde_exporter_queue_recovered_items_total', { exporter: 'otlp/jaeger' });
    await jaeger.start();
    await send();
    await jaeger.stop();
    steps.push('Jaeger stopped for a moment');
    await jaeger.start();
    await send();

    const total = next;
    const ids = Array.from({ length: total }, (_, i) => spanIdOf(i));
    const want = new Set(ids);
    const found = await pollValue(
      async () => (await jaeger!.traceSpans(TRACE_ID)).map((s) => s.spanId),
      (got) => ids.every((id) => got.includes(id)),
      90_000,
      500,
    );
    const missing = ids.filter((id) => !found.includes(id));
    const unexpected = found.filter((id) => !want.has(id));
    let duplicates = 0;
    for (const n of jaeger.tap!.spanCopies(TRACE_ID).values()) duplicates += n - 1;
    console.log(
      `persistent queue with Jaeger: ${total} spans sent through Sonde, ${total - missing.length} in Jaeger, ${missing.length} missing, ` +
        `${duplicates} duplicates (at-least-once); ${steps.length} outages (${steps.join('; ')}); ` +
        `${queued} batches waiting (more in flight) at SIGKILL, ${recovered} spans recovered from disk after the restart`,
    );
    expect(missing).toEqual([]);
    expect(unexpected).toEqual([]);
    expect(queued).toBeGreaterThan(0);
    expect(recovered).toBeGreaterThan(0);
    // The restarted Sonde accounts for what it recovered plus what it was given, and drains it all.
    const after = await pollValue(
      () => metrics(ports),
      (m) => value(m, 'sonde_exporter_queue_items', { exporter: 'otlp/jaeger' }) === 0,
      30_000,
    );
    expect(value(after, 'sonde_exporter_sent_items_total', { exporter: 'otlp/jaeger' })).toBe(recovered + 2 * REQUESTS_PER_STEP * SPANS_PER_REQUEST);
    expect(value(after, 'sonde_exporter_send_failed_items_total', { exporter: 'otlp/jaeger' })).toBe(0);
    const { code } = await sonde.stop('SIGTERM');
    expect(code).toBe(0);
  }, 240_000);
});
