// A process whose threads carry their own kernel names (Java "http-nio-8080-e", libuv workers) is
// ONE process: its TCP connections and HTTP requests land in one resource named after the process,
// and `include.processes` / `exclude.processes` match the process name for every thread. The
// fixture (fixtures/renamed-thread-client.py) runs under a unique executable name (a symlink to
// the interpreter) and connects from its main thread and from a worker renamed with prctl.
import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Attributes, Span } from '../../src/pdata/types.js';
import { SpanKind } from '../../src/pdata/types.js';
import type { EbpfConfig, ProcessPortFilter } from '../../src/receivers/ebpf/config.js';
import { ebpfReceiverFactory } from '../../src/receivers/ebpf/factory.js';
import type { EbpfReceiver } from '../../src/receivers/ebpf/receiver.js';
import type { TcpCapture } from '../../src/receivers/ebpf/tcp/tcp-capture.js';
import { OFF, TCP_EVENT, readComm } from '../../src/receivers/ebpf/tcp/tcp-event.js';
import { freePort } from '../helpers/free-port.js';
import { pollUntil } from '../helpers/poll.js';
import { requireBpf, type BpfAvailability } from './bpf-available.js';
import { CapturingConsumer, makeSettings, runConnectChild, sumOf } from './harness.js';
import { curl } from './http-servers.js';

const THREAD_NAME = 'http-nio-8080-e'; // 15 characters, as a Tomcat executor thread names itself
const MAIN_N = 3;
const WORKER_N = 4;
const FIXTURE = fileURLToPath(new URL('./fixtures/renamed-thread-client.py', import.meta.url));

interface FixtureResult {
  pid: number;
  process_comm: string;
  main_tid: number;
  main_comm: string;
  worker_tid: number;
  worker_comm: string;
  main: number;
  worker: number;
}

interface Fixture {
  result: FixtureResult;
  /** Lets the process exit (it waits on stdin so the test can look at it alive). */
  stop(): Promise<void>;
}

let binDir: string | undefined;
let names = 0;

/** A process name no other test uses (comm: at most 15 characters). */
function nextName(): string {
  return `sondemt${process.pid % 100000}${names++}`.slice(0, 15);
}

/** An executable that runs under `name`: a symlink, named so, to the real interpreter. */
function fixtureExecutable(name: string): string {
  binDir ??= mkdtempSync(join(tmpdir(), 'sonde-threads-'));
  const python = realpathSync(execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim());
  const path = join(binDir, name);
  symlinkSync(python, path);
  return path;
}

function runFixture(mode: 'tcp' | 'http', port: number, name: string): Promise<Fixture> {
  const child: ChildProcessWithoutNullStreams = spawn(fixtureExecutable(name), [FIXTURE, mode, String(port), String(MAIN_N), String(WORKER_N), THREAD_NAME]);
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.stdin.end();
    });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`fixture timed out: ${err}`));
    }, 30_000);
    child.stderr.on('data', (d) => (err += String(d)));
    child.stdout.on('data', (d) => {
      out += String(d);
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(t);
      resolve({ result: JSON.parse(out.slice(0, nl)) as FixtureResult, stop });
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`fixture exited (${code}) before reporting: ${err}`));
    });
  });
}

/** The fixture's premise: two threads, two kernel names, every connection made. */
function expectPremise(f: FixtureResult, name: string): void {
  expect(f).toMatchObject({ process_comm: name, main_comm: name, worker_comm: THREAD_NAME, main: MAIN_N, worker: WORKER_N });
  expect(f.worker_tid).not.toBe(f.main_tid);
}

function filter(over: Partial<ProcessPortFilter> = {}): ProcessPortFilter {
  return { ports: [], processes: [], pids: [], ...over };
}

/** Call inside describe(): `create()`'s server listens on a free 127.0.0.1 port for the whole block. */
function listenForBlock(bpf: BpfAvailability, create: () => Server): { port: number } {
  const at = { port: 0 };
  let server: Server | undefined;
  beforeAll(async () => {
    if (!bpf.ok) return;
    at.port = await freePort();
    server = create();
    await new Promise<void>((r) => server!.listen(at.port, '127.0.0.1', r));
  });
  afterAll(async () => {
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
  });
  return at;
}

/**
 * Runs the fixture as `name` while `receiver` runs, checks its premise, then `body`; stops the
 * fixture and shuts the receiver down whatever happens.
 */
async function withFixture(receiver: EbpfReceiver, mode: 'tcp' | 'http', port: number, name: string, body: (f: FixtureResult) => Promise<void>): Promise<void> {
  let fx: Fixture | undefined;
  try {
    fx = await runFixture(mode, port, name);
    expectPremise(fx.result, name);
    await body(fx.result);
  } finally {
    await fx?.stop();
    await receiver.shutdown();
  }
}

afterAll(() => {
  if (binDir) rmSync(binDir, { recursive: true, force: true });
});

describe('thread names: TCP (real kernel)', () => {
  const bpf = requireBpf();
  const server = listenForBlock(bpf, () =>
    createServer((s) => {
      s.on('error', () => {});
      s.on('data', () => s.end('ok'));
    }),
  );

  interface Seen { pid: number; tid: number; type: number; comm: string; zeroPadded: boolean }

  /** A TCP-only receiver scoped to the test port, plus a witness of every event the kernel delivered. */
  async function start(include: ProcessPortFilter, exclude: ProcessPortFilter) {
    const consumer = new CapturingConsumer();
    const defaults = ebpfReceiverFactory.createDefaultConfig();
    const cfg: EbpfConfig = { ...defaults, collection_interval: '1s', include, exclude, http: { ...defaults.http, enabled: false } };
    const receiver = ebpfReceiverFactory.create(makeSettings(undefined, 'threads'), cfg, { metrics: consumer }) as EbpfReceiver;
    await receiver.start();
    // What the kernel sent, before the aggregator (whose own process filter would hide a kernel miss).
    const seen: Seen[] = [];
    const agg = (receiver.running[0] as TcpCapture).aggregator;
    const record = agg.record.bind(agg);
    agg.record = (ev) => {
      let zeroPadded = true;
      let ended = false;
      for (let i = 0; i < 16; i++) {
        const b = ev.view.getUint8(ev.offset + OFF.comm + i);
        if (ended && b !== 0) zeroPadded = false;
        if (b === 0) ended = true;
      }
      seen.push({ pid: ev.pid, tid: ev.tid, type: ev.type, comm: readComm(ev.view, ev.offset), zeroPadded });
      record(ev);
    };
    return { consumer, receiver, seen };
  }

  const resourcesOf = (consumer: CapturingConsumer, pid: number) => consumer.latest().filter((r) => r.resource.attributes['process.pid'] === pid);

  /** Waits for the fixture's connects, then one more collection (a second resource would show by now): one resource. */
  async function oneResource(consumer: CapturingConsumer, pid: number) {
    await pollUntil(() => sumOf(resourcesOf(consumer, pid)[0], 'sonde.tcp.connections') >= MAIN_N + WORKER_N, 15_000);
    await new Promise((r) => setTimeout(r, 1200));
    const rms = resourcesOf(consumer, pid);
    expect(rms).toHaveLength(1);
    return rms[0]!;
  }

  it.runIf(bpf.ok)('one resource per process: connects from a renamed thread count with the process', async () => {
    const name = nextName();
    const { port } = server;
    const { consumer, receiver, seen } = await start(filter({ ports: [port] }), filter({ pids: [process.pid] }));
    await withFixture(receiver, 'tcp', port, name, async (fx) => {
      const rm = await oneResource(consumer, fx.pid);
      expect(rm.resource.attributes).toMatchObject({ 'process.executable.name': name, 'service.name': name });
      const want: Attributes = { 'server.port': port, 'sonde.tcp.outcome': 'success', 'network.tcp.direction': 'outbound' };
      expect(sumOf(rm, 'sonde.tcp.connections', want)).toBe(MAIN_N + WORKER_N);
      // the kernel names the process, not the thread, and still tells the threads apart
      const connects = seen.filter((e) => e.pid === fx.pid && e.type === TCP_EVENT.CONNECT);
      expect(connects).toHaveLength(MAIN_N + WORKER_N);
      expect(connects.filter((e) => e.tid === fx.worker_tid)).toHaveLength(WORKER_N);
      expect(connects.filter((e) => e.tid === fx.main_tid)).toHaveLength(MAIN_N);
      expect(new Set(seen.filter((e) => e.pid === fx.pid).map((e) => e.comm))).toEqual(new Set([name]));
      expect(seen.every((e) => e.zeroPadded)).toBe(true);
    });
  });

  it.runIf(bpf.ok)('include.processes keeps the connects of every thread of the named process', async () => {
    const name = nextName();
    const { port } = server;
    const { consumer, receiver, seen } = await start(filter({ ports: [port], processes: [name] }), filter());
    await withFixture(receiver, 'tcp', port, name, async (fx) => {
      const rm = await oneResource(consumer, fx.pid);
      expect(sumOf(rm, 'sonde.tcp.connections', { 'server.port': port, 'sonde.tcp.outcome': 'success' })).toBe(MAIN_N + WORKER_N);
      expect(seen.filter((e) => e.pid === fx.pid && e.type === TCP_EVENT.CONNECT && e.tid === fx.worker_tid)).toHaveLength(WORKER_N);
      // only the named process passed the kernel: not this test process's accepts
      expect(seen.filter((e) => e.pid !== fx.pid)).toEqual([]);
    });
  });

  it.runIf(bpf.ok)('exclude.processes drops the connects of every thread of the named process in the kernel', async () => {
    const name = nextName();
    const { port } = server;
    const { consumer, receiver, seen } = await start(filter({ ports: [port] }), filter({ processes: [name], pids: [process.pid] }));
    await withFixture(receiver, 'tcp', port, name, async (fx) => {
      // a control process connecting afterwards: once its connects are in, the fixture's would be too
      const closed = await freePort();
      const control = await runConnectChild({ host: '127.0.0.1', okPort: port, closedPort: closed, ok: 5, refused: 0, send: 1, expect: 2 });
      expect(control.ok).toBe(5);
      expect(await pollUntil(() => seen.filter((e) => e.pid === control.pid && e.type === TCP_EVENT.CONNECT).length >= 5, 15_000)).toBe(true);
      await new Promise((r) => setTimeout(r, 1200));
      expect(seen.filter((e) => e.pid === fx.pid)).toEqual([]);
      expect(resourcesOf(consumer, fx.pid)).toEqual([]);
      expect(sumOf(resourcesOf(consumer, control.pid)[0], 'sonde.tcp.connections', { 'server.port': port })).toBe(5);
    });
  });
});

describe('thread names: HTTP (real kernel)', () => {
  const bpf = requireBpf();
  // In this process: Sonde never captures itself, so only the clients' side is seen.
  const server = listenForBlock(bpf, () =>
    createHttpServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('ok\n'));
    }),
  );

  interface Captured { pid: unknown; resource: Attributes; span: Span }

  async function start(include: ProcessPortFilter, exclude: ProcessPortFilter) {
    const consumer = new CapturingConsumer();
    const traces = consumer.traces;
    const defaults = ebpfReceiverFactory.createDefaultConfig();
    const cfg: EbpfConfig = { ...defaults, collection_interval: '1h', include, exclude, tcp: { ...defaults.tcp, enabled: false } };
    const receiver = ebpfReceiverFactory.create(makeSettings(undefined, 'threads_http'), cfg, { traces: consumer }) as EbpfReceiver;
    await receiver.start();
    const spans = (): Captured[] =>
      traces.flatMap((b) =>
        b.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((span) => ({ pid: rs.resource.attributes['process.pid'], resource: rs.resource.attributes, span })))),
      );
    return { receiver, spans };
  }

  async function expectOneProcess(spans: () => Captured[], fx: FixtureResult, name: string): Promise<void> {
    const mine = () => spans().filter((s) => s.pid === fx.pid);
    await pollUntil(() => mine().length >= MAIN_N + WORKER_N, 15_000);
    await new Promise((r) => setTimeout(r, 600)); // a few more span hand-offs (every 200 ms)
    const got = mine();
    expect(got.map((s) => s.span.attributes['url.path']).sort()).toEqual([...Array(MAIN_N).fill('/renamed/main'), ...Array(WORKER_N).fill('/renamed/worker')]);
    expect(got.every((s) => s.span.kind === SpanKind.CLIENT && s.span.attributes['server.port'] === server.port)).toBe(true);
    expect(new Set(got.map((s) => JSON.stringify(s.resource)))).toHaveProperty('size', 1);
    expect(got[0]!.resource).toMatchObject({ 'process.executable.name': name, 'service.name': name });
  }

  it.runIf(bpf.ok)('requests from a renamed thread are attributed to the process', async () => {
    const name = nextName();
    const { receiver, spans } = await start(filter({ ports: [server.port] }), filter());
    await withFixture(receiver, 'http', server.port, name, (fx) => expectOneProcess(spans, fx, name));
  });

  it.runIf(bpf.ok)('include.processes keeps the requests of every thread of the named process', async () => {
    const name = nextName();
    const { receiver, spans } = await start(filter({ ports: [server.port], processes: [name] }), filter());
    await withFixture(receiver, 'http', server.port, name, async (fx) => {
      await expectOneProcess(spans, fx, name);
      expect(spans().filter((s) => s.pid !== fx.pid)).toEqual([]);
    });
  });

  it.runIf(bpf.ok)('exclude.processes drops the requests of every thread of the named process', async () => {
    const name = nextName();
    const { receiver, spans } = await start(filter({ ports: [server.port] }), filter({ processes: [name] }));
    await withFixture(receiver, 'http', server.port, name, async (fx) => {
      // a control request afterwards: once its span is in, the fixture's would be too
      expect((await curl([], [`http://127.0.0.1:${server.port}/control`]))[0]!.code).toBe(200);
      expect(await pollUntil(() => spans().some((s) => s.span.attributes['url.path'] === '/control'), 15_000)).toBe(true);
      await new Promise((r) => setTimeout(r, 600));
      expect(spans().filter((s) => s.pid === fx.pid)).toEqual([]);
    });
  });
});
