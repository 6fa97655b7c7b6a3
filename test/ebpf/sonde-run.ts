// `sonde run` with the ebpf receiver feeding the file exporter, for the end-to-end eBPF tests: the
// config they all write (only the receiver's settings and extra exporters differ), the start until
// /readyz answers, and the clean-up.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startSonde, waitForOk, type SondeProcess } from '../helpers/sonde-process.js';

export interface EbpfRunOptions {
  /** Prefix of the run's temporary directory (config.yaml and out.jsonl). */
  tmpPrefix: string;
  /** The admin endpoint's port on 127.0.0.1; the caller takes it, so its ports come in its own order. */
  admin: number;
  /** receivers.ebpf settings. */
  ebpf: Record<string, unknown>;
  /** One pipeline per signal: ebpf -> file, then `exporters`. */
  signals: readonly ('traces' | 'metrics')[];
  /** Exporters besides `file`, in every pipeline after it. */
  exporters?: Record<string, unknown>;
}

export interface EbpfRun {
  dir: string;
  /** The file exporter's output (OTLP/JSON, one export request per line). */
  outPath: string;
  sonde: SondeProcess;
  /** http://127.0.0.1:ADMIN + path */
  url(path: string): string;
  /** The admin endpoint's /metrics text. */
  metrics(): Promise<string>;
  /** Kills Sonde if it still runs and removes the directory; safe to call more than once. */
  dispose(): Promise<void>;
}

/** Writes the config, starts `sonde run` and waits (30 s at most) until it is ready. */
export async function startEbpfRun(options: EbpfRunOptions): Promise<EbpfRun> {
  const dir = mkdtempSync(join(tmpdir(), options.tmpPrefix));
  const outPath = join(dir, 'out.jsonl');
  const extra = options.exporters ?? {};
  const config = {
    receivers: { ebpf: options.ebpf },
    exporters: { file: { path: outPath }, ...extra },
    service: {
      telemetry: { metrics: { address: `127.0.0.1:${options.admin}` } },
      pipelines: Object.fromEntries(options.signals.map((s) => [s, { receivers: ['ebpf'], exporters: ['file', ...Object.keys(extra)] }])),
    },
  };
  writeFileSync(join(dir, 'config.yaml'), stringify(config));
  const sonde = startSonde(['run', '--config', join(dir, 'config.yaml')]);
  const url = (path: string) => `http://127.0.0.1:${options.admin}${path}`;
  const run: EbpfRun = {
    dir,
    outPath,
    sonde,
    url,
    metrics: async () => (await fetch(url('/metrics'))).text(),
    async dispose() {
      if (sonde.child.exitCode === null && sonde.child.signalCode === null) await sonde.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitForOk(url('/readyz'), sonde, 30_000);
  } catch (err) {
    await run.dispose();
    throw err;
  }
  return run;
}
