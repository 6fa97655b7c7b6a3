// A private nginx (Debian nginx-light) on 127.0.0.1 with a temporary config: one worker, no
// access log, a fixed 200 "ok" answer, every path under a temp prefix so it runs next to others.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { sleep, startBackground, type Background } from '../lib/services.js';

export interface Nginx {
  port: number;
  masterPid: number;
  workerPids(): number[];
  stop(): Promise<void>;
}

export async function startNginx(port: number, workers = 1): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), 'sonde-bench-nginx-'));
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, `
worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:${port};
    location / { return 200 "ok\\n"; }
  }
}
`);
  const bg: Background = await startBackground('nginx', ['-c', conf, '-p', dir, '-e', join(dir, 'error.log'), '-g', 'daemon off;'], { immediately: true });
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/`);
      if (r.status === 200) break;
    } catch {
      /* not yet */
    }
    if (i > 100 || bg.child.exitCode !== null) {
      await bg.stop();
      const log = existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : bg.stderr();
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`nginx did not start on 127.0.0.1:${port}: ${log.slice(-1000)}`);
    }
    await sleep(100);
  }
  return {
    port,
    masterPid: bg.pid,
    workerPids: () => {
      try {
        return readFileSync(`/proc/${bg.pid}/task/${bg.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      } catch {
        return [];
      }
    },
    async stop() {
      await bg.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
