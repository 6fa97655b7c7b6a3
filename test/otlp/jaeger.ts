// A Jaeger v2 process for the end-to-end tests: built by scripts/jaeger.sh (setup-test-env.sh),
// configured by `scripts/jaeger.sh config` on free 127.0.0.1 ports, started and stopped here.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/free-port.js';
import { pollValue } from '../helpers/poll.js';
import { JaegerIngestTap } from './jaeger-ingest-tap.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = join(ROOT, 'scripts/jaeger.sh');

export function jaegerBinary(): string {
  return execFileSync('bash', [SCRIPT, 'path'], { encoding: 'utf8' }).trim();
}

/** True when the binary is there; under CI its absence is an error, elsewhere the tests skip. */
export function jaegerAvailable(): boolean {
  const ok = existsSync(jaegerBinary());
  if (!ok && process.env.CI === 'true') {
    throw new Error(`Jaeger is not installed (${jaegerBinary()}); run scripts/setup-test-env.sh`);
  }
  return ok;
}


export interface JaegerPorts {
  otlpGrpc: number;
  otlpHttp: number;
  queryHttp: number;
  queryGrpc: number;
}

/** One span as Jaeger's v3 API returns it (OTLP/JSON shape). */
export interface JaegerSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  startTimeUnixNano?: string;
  endTimeUnixNano?: string;
  attributes?: { key: string; value: Record<string, unknown> }[];
  events?: { name: string; timeUnixNano?: string; attributes?: { key: string; value: Record<string, unknown> }[] }[];
  status?: { code?: number; message?: string };
  /** Added by this helper: the attributes of the resource the span is listed under, as a plain object. */
  resource: Record<string, unknown>;
}

/** The v3 API's answer: OTLP/JSON resource spans. */
interface JaegerTraceBody {
  result?: { resourceSpans?: { resource?: { attributes?: JaegerSpan['attributes'] }; scopeSpans?: { spans?: Omit<JaegerSpan, 'resource'>[] }[] }[] };
}

export class Jaeger {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'sonde-jaeger-'));
  private log = '';

  private constructor(
    readonly ports: JaegerPorts,
    private readonly storage: 'memory' | 'badger',
    /** With `{ tap: true }`: every copy of every span Jaeger accepted, duplicates included. */
    readonly tap: JaegerIngestTap | undefined,
  ) {}

  static async create(storage: 'memory' | 'badger' = 'memory', options: { tap?: boolean } = {}): Promise<Jaeger> {
    const ports = { otlpGrpc: await freePort(), otlpHttp: await freePort(), queryHttp: await freePort(), queryGrpc: await freePort() };
    return new Jaeger(ports, storage, options.tap ? await JaegerIngestTap.start() : undefined);
  }

  get grpcEndpoint(): string {
    return `127.0.0.1:${this.ports.otlpGrpc}`;
  }

  get httpEndpoint(): string {
    return `http://127.0.0.1:${this.ports.otlpHttp}`;
  }

  async start(): Promise<void> {
    const config = execFileSync('bash', [SCRIPT, 'config'], {
      encoding: 'utf8',
      env: {
        ...process.env,
        JAEGER_OTLP_GRPC_PORT: String(this.ports.otlpGrpc),
        JAEGER_OTLP_HTTP_PORT: String(this.ports.otlpHttp),
        JAEGER_QUERY_HTTP_PORT: String(this.ports.queryHttp),
        JAEGER_QUERY_GRPC_PORT: String(this.ports.queryGrpc),
        JAEGER_STORAGE: this.storage,
        JAEGER_BADGER_DIR: join(this.dir, 'badger'),
      },
    });
    const configFile = join(this.dir, 'config.yaml');
    writeFileSync(configFile, this.tap ? this.tap.addTo(config) : config);
    const child = spawn(jaegerBinary(), ['--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (b: Buffer): void => {
      this.log = (this.log + b.toString()).slice(-8000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.child = child;
    for (let i = 0; i < 120; i++) {
      if (child.exitCode !== null) throw new Error(`jaeger exited with ${child.exitCode}:\n${this.log}`);
      try {
        const r = await fetch(`http://127.0.0.1:${this.ports.queryHttp}/api/services`);
        if (r.ok) {
          // The query API can be up a moment before the OTLP receiver.
          await waitForPort(this.ports.otlpGrpc);
          await waitForPort(this.ports.otlpHttp);
          return;
        }
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`jaeger did not come up:\n${this.log}`);
  }

  /** SIGTERM and wait for the process to exit (Jaeger flushes on a clean stop). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    this.child = undefined;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }

  async dispose(): Promise<void> {
    await this.stop();
    await this.tap?.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** All spans of a trace through the v3 API (OTLP/JSON), each with its resource's attributes; [] when Jaeger does not know it (yet). */
  async traceSpans(traceId: string): Promise<JaegerSpan[]> {
    const r = await fetch(`http://127.0.0.1:${this.ports.queryHttp}/api/v3/traces/${traceId}`);
    if (r.status === 404) return [];
    if (!r.ok) throw new Error(`jaeger GET /api/v3/traces/${traceId}: ${r.status} ${await r.text()}`);
    const body = (await r.json()) as JaegerTraceBody;
    const spans: JaegerSpan[] = [];
    for (const rs of body.result?.resourceSpans ?? []) {
      const resource = attributeMap(rs.resource?.attributes);
      for (const ss of rs.scopeSpans ?? []) for (const span of ss.spans ?? []) spans.push({ ...span, resource });
    }
    return spans;
  }

  /** Polls until the trace has `count` spans (Jaeger stores asynchronously), bounded. */
  async waitForSpans(traceId: string, count: number, timeoutMs = 20_000): Promise<JaegerSpan[]> {
    return pollValue(() => this.traceSpans(traceId), (spans) => spans.length >= count, timeoutMs, 200);
  }

  get recentLog(): string {
    return this.log;
  }
}

async function waitForPort(port: number): Promise<void> {
  const { connect } = await import('node:net');
  for (let i = 0; i < 40; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`port ${port} did not open`);
}

/** OTLP/JSON attribute list -> plain object, for comparisons. */
export function attributeMap(attrs: JaegerSpan['attributes']): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of attrs ?? []) out[a.key] = anyValue(a.value);
  return out;
}

function anyValue(v: Record<string, unknown>): unknown {
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue;
  if ('boolValue' in v) return v.boolValue;
  if ('arrayValue' in v) return ((v.arrayValue as { values?: Record<string, unknown>[] }).values ?? []).map(anyValue);
  return v;
}
