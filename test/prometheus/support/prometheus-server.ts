// Runs a private Prometheus (the Debian `prometheus` package) on 127.0.0.1 for tests: a fresh
// temp TSDB, a free port, the remote-write receiver on, and a config that scrapes the given
// targets. Never touches a system instance: the port is chosen here and checked via the API.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../helpers/free-port.js';
import { pollValue } from '../../helpers/poll.js';

export const PROMETHEUS_BIN = process.env['SONDE_TEST_PROMETHEUS'] ?? 'prometheus';

/** True when the Prometheus binary runs. */
export function prometheusAvailable(): boolean {
  const r = spawnSync(PROMETHEUS_BIN, ['--version'], { stdio: 'ignore' });
  return r.status === 0;
}

export interface ScrapeJob {
  job: string;
  /** host:port targets. */
  targets: string[];
  path?: string;
}

export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

export class TestPrometheus {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private logText = '';

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async start(jobs: ScrapeJob[], scrapeInterval = '1s'): Promise<TestPrometheus> {
    const dir = mkdtempSync(join(tmpdir(), 'sonde-prometheus-'));
    const port = await freePort();
    const lines = ['global:', `  scrape_interval: ${scrapeInterval}`, `  scrape_timeout: ${scrapeInterval}`, 'scrape_configs:'];
    for (const j of jobs) {
      lines.push(`  - job_name: ${JSON.stringify(j.job)}`, `    metrics_path: ${JSON.stringify(j.path ?? '/metrics')}`, '    static_configs:');
      lines.push(`      - targets: [${j.targets.map((t) => JSON.stringify(t)).join(', ')}]`);
    }
    writeFileSync(join(dir, 'prometheus.yml'), `${lines.join('\n')}\n`);
    const p = new TestPrometheus(port, dir);
    await p.launch();
    return p;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get remoteWriteUrl(): string {
    return `${this.url}/api/v1/write`;
  }

  /** Everything Prometheus wrote to stderr (its log) across every run of this instance. */
  log(): string {
    return this.logText;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  async launch(): Promise<void> {
    if (this.child) return;
    const child = spawn(
      PROMETHEUS_BIN,
      [
        `--config.file=${join(this.dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(this.dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${this.port}`,
        '--web.enable-remote-write-receiver',
        '--storage.tsdb.retention.time=1d',
        '--log.level=info',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => (this.logText += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.logText += d.toString()));
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        this.child = undefined;
        resolve();
      }),
    );
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (!this.child) throw new Error(`prometheus exited during startup:\n${this.logText.slice(-2000)}`);
      try {
        const res = await fetch(`${this.url}/-/ready`);
        if (res.status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`prometheus not ready after 30 s:\n${this.logText.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // Make sure the instance answering is ours (our temp TSDB), not a system Prometheus.
    const flags = (await (await fetch(`${this.url}/api/v1/status/flags`)).json()) as { data: Record<string, string> };
    if (flags.data['storage.tsdb.path'] !== join(this.dir, 'data')) {
      throw new Error(`the Prometheus on port ${this.port} is not the test instance (tsdb path ${flags.data['storage.tsdb.path']})`);
    }
  }

  /** SIGTERM and wait for exit (SIGKILL after 15 s). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }

  /** Stops the process and deletes its data. */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** An instant query; returns the vector (empty when nothing matches). */
  async query(promql: string): Promise<PromSample[]> {
    const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { status: string; error?: string; data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] } };
    if (body.status !== 'success') throw new Error(`query ${promql} failed: ${body.error}`);
    if (body.data.resultType !== 'vector') throw new Error(`query ${promql} returned ${body.data.resultType}`);
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  /** The single value of a query, or undefined when it matches nothing. */
  async value(promql: string): Promise<number | undefined> {
    const r = await this.query(promql);
    if (r.length > 1) throw new Error(`query ${promql} returned ${r.length} series`);
    return r[0]?.value;
  }

  /** Polls `promql` until `ok(value)` or the deadline; returns the last value seen. */
  async waitFor(promql: string, ok: (v: number | undefined) => boolean, timeoutMs = 20_000): Promise<number | undefined> {
    return pollValue(() => this.value(promql), ok, timeoutMs, 250);
  }

  /** A counter from Prometheus' own /metrics (summed over labels), e.g. prometheus_tsdb_out_of_order_samples_total. */
  async selfMetric(name: string): Promise<number> {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  }
}
