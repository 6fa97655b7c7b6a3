// Done-when: under a load ten times what the exporter can ship, Sonde's resident memory stays
// under the memory_limiter's hard limit for the whole run, and every item is accounted for from
// /metrics: received = sent + queued + dropped (counted). Both when_full policies: block (the
// memory limiter then refuses the excess) and drop_newest (the full queue refuses it).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SondeProcess } from '../helpers/sonde-process.js';
import { metrics, residentBytes, runLoad, sampleRss, startAndWait, value, writeTracesConfig } from './harness.js';
import { waitUntil } from '../helpers/poll.js';
import { OtlpSink } from './otlp-sink.js';

const MIB = 1024 * 1024;
const HARD_MIB = 300;
const SPIKE_MIB = 80;
const SINK_DELAY_MS = 400;
const CONSUMERS = 2;
const SPANS_PER_REQUEST = 100;
const PAD_BYTES = 1000;
// The exporter ships CONSUMERS requests per SINK_DELAY_MS: 5 requests (500 spans) per second.
const EXPORT_RPS = (CONSUMERS * 1000) / SINK_DELAY_MS;
const LOAD_RPS = EXPORT_RPS * 10;
const LOAD_SECONDS = 20;

describe('overload: a slow backend and ten times its capacity', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sonde-overload-'));
  const sink = new OtlpSink();
  let sonde: SondeProcess | undefined;
  afterAll(async () => {
    await sonde?.stop('SIGKILL');
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'keeps RSS under the hard limit, refuses the excess (503), and accounts for every item',
    async () => {
      sink.delayMs = SINK_DELAY_MS;
      await sink.start();
      const { file: config, ports } = await writeTracesConfig(dir, {
        processors: {
          memory_limiter: `{ check_interval: 100ms, limit_mib: ${HARD_MIB}, spike_limit_mib: ${SPIKE_MIB}, min_gc_interval_when_soft_limited: 1s, min_gc_interval_when_hard_limited: 0 }`,
        },
        exporter: 'otlphttp',
        exporterSettings: [
          `endpoint: http://127.0.0.1:${sink.port}`,
          'compression: none',
          'timeout: 10s',
          'retry_on_failure: { enabled: true, initial_interval: 100ms, max_interval: 1s, max_elapsed_time: 0 }',
          `sending_queue: { enabled: true, queue_size: 1000, num_consumers: ${CONSUMERS}, when_full: block }`,
        ],
        logLevel: 'warn',
      });
      sonde = await startAndWait(config, ports);
      const rss = sampleRss(sonde.child.pid!, 50);
      const startRss = residentBytes(sonde.child.pid!);

      const load = await runLoad(ports, { rps: LOAD_RPS, seconds: LOAD_SECONDS, spans: SPANS_PER_REQUEST, padBytes: PAD_BYTES });
      const byStatus = load.byStatus;
      const ratio = load.offered / SPANS_PER_REQUEST / (load.elapsedMs / 1000) / EXPORT_RPS;

      // Mid-flight identity, the queue still full of the slow backend's work.
      const mid = await metrics(ports);
      const accepted = value(mid, 'sonde_receiver_accepted_items_total', { receiver: 'otlp' });
      const refused = value(mid, 'sonde_receiver_refused_items_total', { receiver: 'otlp' });
      const sent = value(mid, 'sonde_exporter_sent_items_total', { exporter: 'otlphttp' });
      const failed = value(mid, 'sonde_exporter_send_failed_items_total', { exporter: 'otlphttp' });
      const enqueueFailed = value(mid, 'sonde_exporter_enqueue_failed_items_total', { exporter: 'otlphttp' });
      const queued = value(mid, 'sonde_exporter_queue_items', { exporter: 'otlphttp' });
      const limiterRefused = value(mid, 'sonde_processor_refused_items_total', { processor: 'memory_limiter', pipeline: 'traces' });
      const forcedGc = value(mid, 'sonde_memory_limiter_forced_gc_total', { processor: 'memory_limiter', pipeline: 'traces' });

      const offered = load.offered;
      const ok = byStatus.get(200) ?? 0;
      const unavailable = byStatus.get(503) ?? 0;
      const unknown = byStatus.get(0) ?? 0;
      const samples = await rss.stop();
      const maxRss = Math.max(...samples);
      console.log(
        `overload: offered ${offered} spans in ${(load.elapsedMs / 1000).toFixed(1)}s (${ratio.toFixed(1)}x the exporter's ${EXPORT_RPS} req/s of ${SPANS_PER_REQUEST} spans); ` +
          `client saw (status: spans) ${JSON.stringify(Object.fromEntries(byStatus))}; ` +
          `sonde accepted ${accepted}, refused ${refused} (by the memory_limiter itself ${limiterRefused}, the rest by the receiver on the pressure signal), forced GCs ${forcedGc}; sent ${sent}, queued ${queued}, failed ${failed}, enqueue_failed ${enqueueFailed}; ` +
          `RSS start ${(startRss / MIB).toFixed(0)} MiB, max ${(maxRss / MIB).toFixed(0)} MiB over ${samples.length} samples, hard limit ${HARD_MIB} MiB`,
      );

      // The load really was ten times what the exporter ships (up to the pacing of a busy machine).
      expect(ratio).toBeGreaterThanOrEqual(8);
      // Memory: under the hard limit for the whole run, sampled at least every 200 ms.
      expect(samples.length).toBeGreaterThan(LOAD_SECONDS * 5);
      expect(maxRss).toBeLessThan(HARD_MIB * MIB);
      // The limiter did act: memory crossed the soft limit, data was refused with 503 and counted.
      expect(forcedGc).toBeGreaterThan(0);
      expect(unavailable).toBeGreaterThan(0);
      // Exact accounting from the client side (a request without an answer may have gone either way)
      expect(accepted).toBeGreaterThanOrEqual(ok);
      expect(accepted).toBeLessThanOrEqual(ok + unknown);
      expect(refused).toBeGreaterThanOrEqual(unavailable);
      expect(accepted + refused).toBeLessThanOrEqual(offered);
      expect(accepted + refused).toBeGreaterThanOrEqual(offered - unknown);
      // ... and from /metrics alone: received = sent + queued + failed.
      expect(accepted).toBe(sent + queued + failed);
      expect(enqueueFailed).toBe(0); // when_full: block never drops
      expect(queued).toBeGreaterThan(0);

      // Let the backend catch up: everything accepted is delivered, exactly once.
      sink.delayMs = 0;
      await waitUntil('the queue to drain', async () => value(await metrics(ports), 'sonde_exporter_queue_items', { exporter: 'otlphttp' }) === 0, 120_000);
      const end = await metrics(ports);
      expect(value(end, 'sonde_exporter_sent_items_total', { exporter: 'otlphttp' })).toBe(accepted - failed);
      expect(sink.spans).toBe(value(end, 'sonde_exporter_sent_items_total', { exporter: 'otlphttp' }));
      expect(sink.duplicates()).toBe(0);
      const stopped = await sonde.stop('SIGTERM');
      sonde = undefined;
      expect(stopped.code).toBe(0);
    },
    240_000,
  );
  it(
    'with when_full: drop_newest, a full queue refuses the excess (503, counted) and the identity holds',
    async () => {
      const sinkB = new OtlpSink();
      sinkB.delayMs = SINK_DELAY_MS;
      await sinkB.start();
      const { file: config, ports } = await writeTracesConfig(dir, {
        exporter: 'otlphttp',
        exporterSettings: [
          `endpoint: http://127.0.0.1:${sinkB.port}`,
          'compression: none',
          'retry_on_failure: { enabled: true, initial_interval: 100ms, max_interval: 1s, max_elapsed_time: 0 }',
          `sending_queue: { enabled: true, queue_size: 20, num_consumers: ${CONSUMERS}, when_full: drop_newest }`,
        ],
        logLevel: 'error',
      });
      const proc = await startAndWait(config, ports);
      try {
        const seconds = 8;
        const load = await runLoad(ports, { rps: LOAD_RPS, seconds, spans: SPANS_PER_REQUEST });
        const byStatus = load.byStatus;
        const m = await metrics(ports);
        const accepted = value(m, 'sonde_receiver_accepted_items_total', { receiver: 'otlp' });
        const refused = value(m, 'sonde_receiver_refused_items_total', { receiver: 'otlp' });
        const sent = value(m, 'sonde_exporter_sent_items_total', { exporter: 'otlphttp' });
        const queued = value(m, 'sonde_exporter_queue_items', { exporter: 'otlphttp' });
        const failed = value(m, 'sonde_exporter_send_failed_items_total', { exporter: 'otlphttp' });
        const dropped = value(m, 'sonde_exporter_enqueue_failed_items_total', { exporter: 'otlphttp' });
        const offered = load.offered;
        const unknown = byStatus.get(0) ?? 0;
        console.log(
          `drop_newest: offered ${offered} spans in ${seconds}s; client saw ${JSON.stringify(Object.fromEntries(byStatus))}; ` +
            `accepted ${accepted} = sent ${sent} + queued ${queued} + failed ${failed}; refused ${refused}, of which queue full ${dropped}`,
        );
        expect(dropped).toBeGreaterThan(0);
        expect(accepted).toBeGreaterThanOrEqual(byStatus.get(200) ?? 0);
        expect(accepted).toBeLessThanOrEqual((byStatus.get(200) ?? 0) + unknown);
        expect(accepted + refused).toBeLessThanOrEqual(offered);
        expect(accepted + refused).toBeGreaterThanOrEqual(offered - unknown);
        expect(dropped).toBe(refused); // nothing else refuses in this pipeline
        expect(accepted).toBe(sent + queued + failed);
        sinkB.delayMs = 0;
        await waitUntil('the queue to drain', async () => value(await metrics(ports), 'sonde_exporter_queue_items', { exporter: 'otlphttp' }) === 0, 60_000);
        expect(sinkB.spans).toBe(accepted);
      } finally {
        await proc.stop('SIGTERM');
        await sinkB.stop();
      }
    },
    120_000,
  );
});
