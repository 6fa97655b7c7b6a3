// Shared pieces of the eBPF receiver tests: settings, a TCP-only config, a capturing consumer, a
// replying listener, a child process that makes TCP connections, and lookups in captured metrics.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Consumer, CreateSettings } from '../../src/component/types.js';
import type { Attributes, HistogramDataPoint, MetricsBatch, NumberDataPoint, ResourceMetrics, TelemetryBatch, TracesBatch } from '../../src/pdata/types.js';
import { createDefaultEbpfConfig, type EbpfConfig } from '../../src/receivers/ebpf/config.js';
import { createSilentLogger } from '../../src/telemetry/logger.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';

export function makeSettings(telemetry = new SelfTelemetry({ processMetrics: false }), name = 'test'): CreateSettings {
  return {
    id: { type: 'ebpf', name, key: `ebpf/${name}` },
    logger: createSilentLogger(),
    telemetry,
    configDir: process.cwd(),
    backpressure: { shouldRefuse: () => false },
  };
}

/**
 * TCP only (HTTP capture of the host's unrelated traffic would compete for the test's event loop),
 * scoped in the kernel to `ports` as a user scopes Sonde on a busy host, collected every second.
 * `overrides` replace whole top-level fields (an `include` given there replaces the ports too).
 */
export function tcpOnlyConfig(ports: number[], overrides: Partial<EbpfConfig> = {}): EbpfConfig {
  const defaults = createDefaultEbpfConfig(); // what ebpfReceiverFactory.createDefaultConfig() returns
  return {
    ...defaults,
    collection_interval: '1s',
    include: { ...defaults.include, ports },
    http: { ...defaults.http, enabled: false },
    ...overrides,
  };
}

/**
 * Keeps every metrics batch (`batches`) and every traces batch (`traces`); optionally takes
 * `delayMs` to accept each (a slow exporter).
 */
export class CapturingConsumer implements Consumer {
  readonly mutatesData = false;
  readonly batches: MetricsBatch[] = [];
  readonly traces: TracesBatch[] = [];
  constructor(private readonly delayMs = 0) {}
  async consume(batch: TelemetryBatch): Promise<void> {
    if (batch.signal === 'metrics') this.batches.push(batch);
    else if (batch.signal === 'traces') this.traces.push(batch);
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
  }
  /** The newest batch's resources (metrics are cumulative: the last batch has everything). */
  latest(): ResourceMetrics[] {
    return this.batches.at(-1)?.resourceMetrics ?? [];
  }
}

/**
 * A listener on host:port that answers `reply` bytes once `send` bytes have arrived on a
 * connection (buffered across reads, answered once), as runConnectChild's `expect` wants.
 */
export async function listenReplying(host: string, port: number, send: number, reply: number): Promise<Server> {
  const answer = Buffer.alloc(reply, 121);
  const server = createServer((s) => {
    let got = 0;
    let answered = false;
    s.on('error', () => {});
    s.on('data', (d: Buffer) => {
      got += d.length;
      if (!answered && got >= send) {
        answered = true;
        s.write(answer);
      }
    });
  });
  await new Promise<void>((r) => server.listen(port, host, r));
  return server;
}

export function resourceOf(rms: ResourceMetrics[], pid: number): ResourceMetrics | undefined {
  return rms.find((r) => r.resource.attributes['process.pid'] === pid);
}

function matches(attrs: Attributes, want: Attributes): boolean {
  return Object.entries(want).every(([k, v]) => attrs[k] === v);
}

/** Sum of a counter's points in one resource whose attributes include `want`. */
export function sumOf(rm: ResourceMetrics | undefined, name: string, want: Attributes = {}): number {
  if (!rm) return 0;
  let total = 0;
  for (const sm of rm.scopeMetrics)
    for (const m of sm.metrics) {
      if (m.name !== name || m.type !== 'sum') continue;
      for (const p of m.dataPoints as NumberDataPoint[]) if (matches(p.attributes, want)) total += p.value;
    }
  return total;
}

export function histogramsOf(rm: ResourceMetrics | undefined, name: string, want: Attributes = {}): HistogramDataPoint[] {
  if (!rm) return [];
  const out: HistogramDataPoint[] = [];
  for (const sm of rm.scopeMetrics)
    for (const m of sm.metrics) {
      if (m.name !== name || m.type !== 'histogram') continue;
      for (const p of m.dataPoints) if (matches(p.attributes, want)) out.push(p);
    }
  return out;
}

// The child: makes `ok` connects to each listening port (a comma-separated list) that send `send`
// bytes and read `expect` bytes each, then `refused` connects to a closed port; `concurrency` at a
// time. Prints a JSON summary (ok: successful connects over all ports).
const CHILD = `
import net from 'node:net';
const [host, okPorts, closedPort, ok, refused, send, expect, concurrency] = process.argv.slice(2);
const payload = Buffer.alloc(Number(send), 120);
let okDone = 0, refusedDone = 0, errors = 0;
function one(port, wantData) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port: Number(port) });
    let got = 0;
    s.on('connect', () => { if (wantData) s.write(payload); else s.end(); });
    s.on('data', (d) => { got += d.length; if (got >= Number(expect)) s.end(); });
    s.on('error', (e) => { if (e.code === 'ECONNREFUSED') refusedDone++; else errors++; resolve(); });
    s.on('close', (hadError) => { if (!hadError && wantData && got === Number(expect)) okDone++; resolve(); });
  });
}
async function run(n, port, wantData) {
  let next = 0;
  const workers = Array.from({ length: Math.min(Number(concurrency), n) }, async () => {
    while (next < n) { next++; await one(port, wantData); }
  });
  await Promise.all(workers);
}
const t0 = Date.now();
for (const okPort of okPorts.split(',')) await run(Number(ok), okPort, true);
await run(Number(refused), closedPort, false);
process.stdout.write(JSON.stringify({ pid: process.pid, ok: okDone, refused: refusedDone, errors, wallMs: Date.now() - t0 }));
`;

let childPath: string | undefined;

export interface ChildResult {
  pid: number;
  ok: number;
  refused: number;
  errors: number;
  wallMs: number;
}

export function runConnectChild(args: {
  host: string;
  /** The listening port, or several: `ok` connects go to each in turn. */
  okPort: number | readonly number[];
  closedPort: number;
  ok: number;
  refused: number;
  send: number;
  expect: number;
  concurrency?: number;
  /** A command the child runs under, e.g. ['ip', 'netns', 'exec', NAME] (it must exec, keeping the pid). */
  prefix?: readonly string[];
}): Promise<ChildResult> {
  if (!childPath) {
    childPath = join(mkdtempSync(join(tmpdir(), 'sonde-ebpf-')), 'connect-child.mjs');
    writeFileSync(childPath, CHILD);
  }
  const okPorts = typeof args.okPort === 'number' ? [args.okPort] : args.okPort;
  const argv = [childPath, args.host, okPorts.join(','), String(args.closedPort), String(args.ok), String(args.refused), String(args.send), String(args.expect), String(args.concurrency ?? 8)];
  const [command, ...prefixArgs] = [...(args.prefix ?? []), process.execPath];
  return new Promise((resolve, reject) => {
    const child = spawn(command!, [...prefixArgs, ...argv], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`connect child exited with ${code}`));
      else resolve(JSON.parse(out) as ChildResult);
    });
  });
}

const CONNECT_BURST = fileURLToPath(new URL('./fixtures/connect-burst.mjs', import.meta.url));

export interface BurstResult {
  pid: number;
  ok: number;
  timeout: number;
  other: number;
}

/**
 * In a private network namespace (its own loopback, tcp_syn_retries=1, so the host is untouched):
 * a listener on `port` that never accepts, and `connects` connects to it in flight at once from
 * fixtures/connect-burst.mjs. Most of them time out after about 3 s. Returns the client's summary.
 */
export function connectBurstInNetns(port: number, connects: number, tmpPrefix: string): BurstResult {
  const dir = mkdtempSync(join(tmpdir(), tmpPrefix));
  try {
    copyFileSync(CONNECT_BURST, join(dir, 'client.mjs'));
    const script = [
      'ip link set lo up',
      'sysctl -qw net.ipv4.tcp_syn_retries=1',
      `python3 -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",${port})); s.listen(0); time.sleep(8)' >/dev/null 2>&1 &`,
      // wait (bounded, 10 s) until the listener is up: a fixed sleep is too short on a loaded host
      `i=0; while ! grep -q ':${port.toString(16).toUpperCase()} 00000000:0000 0A' /proc/net/tcp && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done`,
      `"${process.execPath}" ${join(dir, 'client.mjs')} ${port} ${connects}`,
      'kill $! 2>/dev/null; true',
    ].join('\n');
    const out = execFileSync('unshare', ['-n', 'sh', '-c', script], { encoding: 'utf8', timeout: 30_000 });
    return JSON.parse(out) as BurstResult;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
