// Starts the three HTTP servers the capture tests drive (nginx, Node http in a child process,
// Python http.server), each on 127.0.0.1 and a free port, and runs curl against them.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/free-port.js';

export interface RunningServer {
  name: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** 16 bytes that look like a status line: large bodies made of it must not be taken for responses. */
export const BODY_PATTERN = 'HTTP/1.1 200 OK\n';
export const BIG_BODY_BYTES = 16 * 1024 * 64;


function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill(signal);
  });
}

/** Waits for the child to print its port on stdout. */
function portFromStdout(child: ChildProcess, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const t = setTimeout(() => reject(new Error(`${name} did not start: ${err}`)), 15_000);
    child.stderr?.on('data', (d) => (err += String(d)));
    child.stdout?.on('data', (d) => {
      out += String(d);
      const m = /^(\d+)\n/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`${name} exited (${code}) before listening: ${err}`));
    });
  });
}

function waitListening(port: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = createServer();
      s.once('error', () => resolve()); // in use: someone listens there
      s.listen(port, '127.0.0.1', () => {
        s.close(() => (Date.now() > until ? reject(new Error(`nothing listens on ${port}`)) : setTimeout(attempt, 50)));
      });
    };
    attempt();
  });
}

export async function startNodeServer(host = '127.0.0.1'): Promise<RunningServer> {
  const script = fileURLToPath(new URL('./fixtures/http-node-server.mjs', import.meta.url));
  const child = spawn(process.execPath, [script, host], { stdio: ['ignore', 'pipe', 'pipe'] });
  const port = await portFromStdout(child, 'node server');
  return { name: 'node', port, pid: child.pid!, stop: () => stopChild(child) };
}

/** The interpreter itself (not a pyenv shim), so that a child's pid is the server's. */
function pythonExecutable(): Promise<string> {
  return new Promise<string>((resolve) =>
    execFile('python3', ['-c', 'import sys; print(sys.executable)'], (e, out) => resolve(e ? 'python3' : out.trim())),
  );
}

export async function startPythonServer(): Promise<RunningServer> {
  const script = fileURLToPath(new URL('./fixtures/http-python-server.py', import.meta.url));
  const child = spawn(await pythonExecutable(), ['-u', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const port = await portFromStdout(child, 'python server');
  return { name: 'python', port, pid: child.pid!, stop: () => stopChild(child, 'SIGINT') };
}

/**
 * A raw HTTP/1.1 server (fixtures/http-hanging-server.py) that never answers requests whose path
 * starts with /hang, and answers the next request on the same connection as usual.
 */
export async function startHangingServer(): Promise<RunningServer> {
  const script = fileURLToPath(new URL('./fixtures/http-hanging-server.py', import.meta.url));
  const child = spawn(await pythonExecutable(), ['-u', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const port = await portFromStdout(child, 'hanging server');
  return { name: 'hanging', port, pid: child.pid!, stop: () => stopChild(child) };
}

export async function startNginx(): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), 'sonde-nginx-'));
  const port = await freePort();
  writeFileSync(join(dir, 'big'), BODY_PATTERN.repeat(BIG_BODY_BYTES / 16));
  const conf = `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  sendfile off;
  keepalive_requests 10000;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location = /big { default_type text/plain; alias ${dir}/big; }
    location ~ ^/status/404 { return 404 "ok\\n"; }
    location ~ ^/status/500 { return 500 "ok\\n"; }
    location / { return 200 "ok\\n"; }
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const nginx = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx'; // PATH may lack sbin
  const child = spawn(nginx, ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d) => (err += String(d)));
  const exited = new Promise<never>((_r, reject) => child.once('exit', (c) => reject(new Error(`nginx exited (${c}): ${err}`))));
  await Promise.race([waitListening(port), exited]);
  return {
    name: 'nginx',
    port,
    pid: child.pid!,
    stop: async () => {
      await stopChild(child, 'SIGQUIT');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface CurlResult {
  code: number;
  seconds: number;
  /** curl's own end of the connection that carried this request (its source address and port). */
  localIp: string;
  localPort: number;
  /** The curl process (the `process.pid` of its CLIENT spans). */
  pid: number;
}

/**
 * One curl process, several URLs on one command line: curl reuses the connection (keep-alive).
 * Returns the status, time_total and local end of each request, in order.
 */
export function curl(args: string[], urls: string[]): Promise<CurlResult[]> {
  return new Promise((resolve, reject) => {
    const full = ['-sS', '--http1.1', '--max-time', '20'];
    for (const u of urls) full.push('-o', '/dev/null', '-w', '%{http_code} %{time_total} %{local_ip} %{local_port}\\n', u);
    const child = execFile('curl', [...args, ...full], { maxBuffer: 1 << 20 }, (e, out, err) => {
      if (e) return reject(new Error(`curl failed: ${err || e.message}`));
      resolve(
        out
          .trim()
          .split('\n')
          .map((l) => {
            const [c, s, ip, port] = l.split(' ');
            return { code: Number(c), seconds: Number(s), localIp: ip ?? '', localPort: Number(port), pid: child.pid! };
          }),
      );
    });
  });
}
