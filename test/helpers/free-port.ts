import { createServer } from 'node:net';

// Ports for test servers come from below the kernel's ephemeral range (32768-60999 on Linux), one
// slice per vitest worker. A port the kernel hands out with listen(0) can be handed again to a
// test running at the same time in another worker while its first owner is briefly down (a
// backend stopped to test an outage): the other test's Sonde then retries into the wrong
// receiver. Disjoint slices make that impossible; within a file, ports are never reused.
const RANGE_START = 20000;
const SLICE = 1500;
const SLICES = 8;
const worker = Number(process.env.VITEST_POOL_ID ?? process.env.VITEST_WORKER_ID ?? 1);
const sliceBase = RANGE_START + ((worker - 1 + SLICES) % SLICES) * SLICE;
// Consecutive files in one worker start at different offsets, so they rarely reuse a port either.
let next = (process.pid * 7919) % SLICE;

function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/** A TCP port, free on `host` right now, that no concurrently running test file will be given. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let tries = 0; tries < SLICE; tries++) {
    const port = sliceBase + (next++ % SLICE);
    if (await bindable(port, host)) return port;
  }
  throw new Error(`no free port in ${sliceBase}..${sliceBase + SLICE - 1}`);
}
