// Shared pieces of the end-to-end reliability tests: the `sonde run` config (OTLP receiver in, one
// traces pipeline out) and its writer, an OTLP/HTTP client that sends numbered spans to Sonde's
// receiver, and memory sampling of the Sonde process.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { Worker } from 'node:worker_threads';
import { encodeOtlpRequest } from '../../src/pdata/otlp/encode.js';
import { promValue, startSonde, waitForOk, type SondeProcess } from '../helpers/sonde-process.js';
import { freePort } from '../helpers/free-port.js';
import { waitUntil } from '../helpers/poll.js';
import { spanBatch } from './fixtures.js';

export interface Ports {
  otlpHttp: number;
  otlpGrpc: number;
  admin: number;
}

/** Three ports from this worker's slice, taken in this order: OTLP/HTTP, OTLP/gRPC, admin. */
async function newPorts(): Promise<Ports> {
  return { otlpHttp: await freePort(), otlpGrpc: await freePort(), admin: await freePort() };
}

/** What differs between the tests' configs: the traces pipeline after the OTLP receiver. */
export interface TracesPipeline {
  /** Processors in pipeline order, each with its settings as a YAML flow mapping. */
  processors?: Record<string, string>;
  /** The one exporter's key (`otlphttp`, `otlp/jaeger`) and its settings, one `key: value` line each. */
  exporter: string;
  exporterSettings: string[];
  logLevel: 'info' | 'warn' | 'error';
}

/**
 * A `sonde run` config: the OTLP receiver on ports.otlpGrpc / ports.otlpHttp, the admin endpoint
 * on ports.admin, and one traces pipeline `otlp -> processors -> exporter`.
 */
function tracesConfigYaml(ports: Ports, p: TracesPipeline): string {
  const processors = Object.entries(p.processors ?? {});
  const chain = processors.length > 0 ? `processors: [${processors.map(([key]) => key).join(', ')}], ` : '';
  return [
    'receivers:',
    '  otlp:',
    '    protocols:',
    `      grpc: { endpoint: 127.0.0.1:${ports.otlpGrpc} }`,
    `      http: { endpoint: 127.0.0.1:${ports.otlpHttp} }`,
    ...(processors.length > 0 ? ['processors:', ...processors.map(([key, settings]) => `  ${key}: ${settings}`)] : []),
    'exporters:',
    `  ${p.exporter}:`,
    ...p.exporterSettings.map((line) => `    ${line}`),
    'service:',
    `  telemetry: { logs: { level: ${p.logLevel} }, metrics: { address: 127.0.0.1:${ports.admin} } }`,
    '  pipelines:',
    `    traces: { receivers: [otlp], ${chain}exporters: [${p.exporter}] }`,
    '',
  ].join('\n');
}

function writeConfig(dir: string, yaml: string): string {
  const file = join(dir, 'sonde.yaml');
  writeFileSync(file, yaml);
  return file;
}

/** Writes a tracesConfigYaml with fresh ports to `dir`/sonde.yaml; returns the file and the ports. */
export async function writeTracesConfig(dir: string, p: TracesPipeline): Promise<{ file: string; ports: Ports }> {
  const ports = await newPorts();
  return { file: writeConfig(dir, tracesConfigYaml(ports, p)), ports };
}

export async function startAndWait(configFile: string, ports: Ports, extraArgs: string[] = []): Promise<SondeProcess> {
  const proc = startSonde(['run', '--config', configFile, ...extraArgs]);
  await waitForOk(`http://127.0.0.1:${ports.admin}/readyz`, proc, 30_000);
  return proc;
}

export async function metrics(ports: Ports): Promise<string> {
  return (await fetch(`http://127.0.0.1:${ports.admin}/metrics`)).text();
}

export function value(text: string, name: string, labels: Record<string, string> = {}): number {
  const v = promValue(text, name, labels);
  return Number.isNaN(v) ? 0 : v;
}

/**
 * One OTLP/HTTP export of spans first..first+count-1 (protobuf); resolves with the HTTP status, or
 * 0 when no answer came (connection error or 20 s timeout). A fresh connection per request: a
 * reused keep-alive socket that the server closes at the same moment would make outcomes unknown.
 */
export function exportSpans(ports: Ports, first: number, count: number, padBytes = 0): Promise<number> {
  const batch = spanBatch(first, count);
  if (padBytes > 0) {
    const pad = 'x'.repeat(padBytes);
    for (const s of batch.resourceSpans[0]!.scopeSpans[0]!.spans) s.attributes['pad'] = pad;
  }
  const body = encodeOtlpRequest(batch, 'protobuf');
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: ports.otlpHttp,
        path: '/v1/traces',
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/x-protobuf', 'content-length': body.byteLength },
        timeout: 20_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(0));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/** Sends until Sonde answers 200 (as an OTLP client with retries would), within `deadlineMs`. */
export async function exportUntilAccepted(ports: Ports, first: number, count: number, deadlineMs = 60_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const status = await exportSpans(ports, first, count);
    if (status === 200) return;
    if (Date.now() > end) throw new Error(`spans ${first}..${first + count - 1} not accepted within ${deadlineMs} ms (last status ${status})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function residentBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Samples VmRSS of `pid` every `everyMs` in a worker thread, so a busy test thread does not
 * thin out the samples. stop() returns them.
 */
export function sampleRss(pid: number, everyMs = 50): { stop(): Promise<number[]> } {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { readFileSync } = require('node:fs');
    const samples = [];
    const timer = setInterval(() => {
      try {
        const m = /VmRSS:\\s+(\\d+)\\s+kB/.exec(readFileSync('/proc/' + workerData.pid + '/status', 'utf8'));
        if (m) samples.push(Number(m[1]) * 1024);
      } catch {}
    }, workerData.everyMs);
    parentPort.on('message', () => { clearInterval(timer); parentPort.postMessage(samples); });
  `;
  const worker = new Worker(code, { eval: true, workerData: { pid, everyMs } });
  return {
    async stop() {
      const done = new Promise<number[]>((resolve) => worker.once('message', resolve));
      worker.postMessage('stop');
      const samples = await done;
      await worker.terminate();
      return samples;
    },
  };
}

export interface LoadResult {
  /** Spans per HTTP status (0 = no answer). */
  byStatus: Map<number, number>;
  offered: number;
  elapsedMs: number;
}

/**
 * Open-loop load: `rps` requests of `spans` spans per second until `rps * seconds` requests were
 * sent (catching up when the event loop fell behind), then waits for every answer. Bounded: at
 * most `maxInflight` requests in flight, and at most 3 x `seconds` of sending.
 */
export async function runLoad(ports: Ports, o: { rps: number; seconds: number; spans: number; padBytes?: number; maxInflight?: number }): Promise<LoadResult> {
  const total = o.rps * o.seconds;
  const byStatus = new Map<number, number>();
  let inflight = 0;
  let sent = 0;
  const t0 = Date.now();
  while (sent < total && Date.now() - t0 < o.seconds * 3000) {
    const due = Math.min(total, Math.floor(((Date.now() - t0) / 1000) * o.rps));
    while (sent < due && inflight < (o.maxInflight ?? 256)) {
      const first = sent * o.spans;
      sent++;
      inflight++;
      void exportSpans(ports, first, o.spans, o.padBytes ?? 0).then((status) => {
        byStatus.set(status, (byStatus.get(status) ?? 0) + o.spans);
        inflight--;
      });
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const elapsedMs = Date.now() - t0;
  await waitUntil('client requests to settle', () => inflight === 0, 120_000);
  return { byStatus, offered: sent * o.spans, elapsedMs };
}

