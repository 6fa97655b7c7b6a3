// `sonde run` under a connect storm into a deliberately tiny ring: /healthz keeps answering
// quickly while the storm runs, and the events that did not fit show in /metrics.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { promValue } from '../helpers/sonde-process.js';
import { requireBpf } from './bpf-available.js';
import { pollValue } from '../helpers/poll.js';
import { startEbpfRun } from './sonde-run.js';

const STORM_CHILD = `
import net from 'node:net';
const total = Number(process.argv[2]), concurrency = Number(process.argv[3]);
const server = net.createServer((s) => { s.on('error', () => {}); s.end(); });
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;
let next = 0;
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (next < total) {
    next++;
    await new Promise((resolve) => { const s = net.connect(port, '127.0.0.1'); s.on('error', resolve); s.on('close', resolve); s.resume(); });
  }
}));
server.close();
`;

describe('sonde run under a connect storm (real kernel)', () => {
  const bpf = requireBpf();

  it.runIf(bpf.ok)('keeps /healthz answering and shows the lost events in /metrics', async () => {
    const admin = await freePort();
    const run = await startEbpfRun({
      tmpPrefix: 'sonde-storm-e2e-',
      admin,
      ebpf: { collection_interval: '1s', ring_buffer_size: '4KiB', wakeup_threshold: '1MiB', poll_interval: '200ms', http: { enabled: false } },
      signals: ['metrics'],
    });
    try {
      const storm = join(run.dir, 'storm.mjs');
      writeFileSync(storm, STORM_CHILD);
      let answered = 0;
      let slowest = 0;
      let stormDone = false;
      const prober = (async () => {
        while (!stormDone) {
          const t0 = performance.now();
          const r = await fetch(run.url('/healthz'));
          slowest = Math.max(slowest, performance.now() - t0);
          if (r.status === 200) answered++;
          await new Promise((res) => setTimeout(res, 20));
        }
      })();
      await new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, [storm, '3000', '64'], { stdio: 'ignore' });
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`storm exited ${code}`))));
      });
      stormDone = true;
      await prober;
      // The counters are flushed every second (later on a loaded box): poll /metrics, bounded.
      const metrics = await pollValue(
        run.metrics,
        (m) => promValue(m, 'sonde_ebpf_events_lost_total', { program: 'tcp_state' }) > 0 && promValue(m, 'sonde_ebpf_events_total', { program: 'tcp' }) > 0,
        20_000,
        200,
      );
      expect(answered).toBeGreaterThan(3);
      expect(slowest).toBeLessThan(1000); // generous: a shared 2-core machine
      expect(promValue(metrics, 'sonde_ebpf_events_lost_total', { program: 'tcp_state' })).toBeGreaterThan(0);
      expect(promValue(metrics, 'sonde_ebpf_events_total', { program: 'tcp' })).toBeGreaterThan(0);
      const { code } = await run.sonde.stop('SIGTERM');
      expect(code).toBe(0);
    } finally {
      await run.dispose();
    }
  }, 60_000);
});
