// The Go helper bench/export/otlpbench (OTLP sink and load generator), built into bench/.cache.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { cacheDir, repoRoot } from './paths.js';
import { getJson, startBackground, type Background } from './services.js';

/** Module proxies here answer 404 from the checksum database for some versions; see README. */
export const goEnv = { ...process.env, GOFLAGS: '-mod=mod', GONOSUMDB: process.env.GONOSUMDB ?? 'go.opentelemetry.io,google.golang.org,golang.org' };

/** Builds bench/export/otlpbench (Go >= 1.24) into the cache when its sources changed; returns the binary. */
export function buildOtlpbench(): string {
  const src = join(repoRoot(), 'bench/export/otlpbench');
  const out = join(cacheDir('bin'), 'otlpbench');
  const newest = Math.max(...readdirSync(src).map((f) => statSync(join(src, f)).mtimeMs));
  if (!existsSync(out) || statSync(out).mtimeMs < newest) {
    const r = spawnSync('go', ['build', '-o', out, '.'], { cwd: src, env: goEnv, stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) throw new Error('building bench/export/otlpbench failed (needs Go >= 1.24 on PATH)');
  }
  return out;
}

export interface Sink {
  bg: Background;
  /** host:port of its OTLP/gRPC listener. */
  grpc: string;
  count(): Promise<{ spans: number; points: number }>;
  stop(): Promise<void>;
}

export async function startSink(bin: string): Promise<Sink> {
  const bg = await startBackground(bin, ['sink', '-grpc', '127.0.0.1:0', '-http', '127.0.0.1:0']);
  const addr = JSON.parse(bg.firstLine) as { grpc: string; http: string };
  return { bg, grpc: addr.grpc, count: () => getJson(`http://${addr.http}/count`), stop: () => bg.stop() };
}
