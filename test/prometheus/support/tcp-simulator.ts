// Stands in for the eBPF receiver when it is not available: makes real TCP connects to a local
// server, times them, and emits sonde.tcp.* delta batches exactly shaped like the receiver's.
import { type Server, connect, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { MetricsBatch } from '../../../src/pdata/types.js';
import { tcpBatch } from './tcp-metrics.js';

export class TcpTarget {
  private server: Server | undefined;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((s) => {
      s.on('error', () => undefined);
      s.end();
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/** One connect to 127.0.0.1:port; resolves with the connect duration in seconds. */
export function connectOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      const d = Number(process.hrtime.bigint() - t0) / 1e9;
      s.on('error', () => undefined);
      s.destroy();
      resolve(d);
    });
    s.once('error', reject);
  });
}

export class TcpMetricsSimulator {
  private durations: number[] = [];
  private lastEmitNs = BigInt(Date.now()) * 1_000_000n;
  /** Connects made so far. */
  total = 0;

  constructor(
    readonly port: number,
    readonly serviceName = 'sonde-prom-test',
  ) {}

  async connect(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      this.durations.push(await connectOnce(this.port));
      this.total++;
    }
  }

  /** The delta batch for everything since the previous emit (the receiver's collection tick). */
  emit(): MetricsBatch {
    let now = BigInt(Date.now()) * 1_000_000n;
    if (now <= this.lastEmitNs) now = this.lastEmitNs + 1_000_000n;
    const batch = tcpBatch({
      timeUnixNano: now,
      startTimeUnixNano: this.lastEmitNs,
      serverPort: this.port,
      connects: this.durations.length,
      durations: this.durations,
      temporality: 'delta',
      serviceName: this.serviceName,
    });
    this.durations = [];
    this.lastEmitNs = now;
    return batch;
  }
}
