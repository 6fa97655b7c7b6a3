// Runs Sonde's CLI in this process with a CPU profile that starts on SIGUSR2 (sent by the
// benchmark once Sonde is ready) and is written at exit. `node --cpu-prof` cannot be used for
// Sonde with BPF: its SIGPROF ticks interrupt the kernel verifier (program load fails with EAGAIN).
//   SONDE_PROFILE_OUT=FILE node profiled-sonde.js run --config FILE
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from './paths.js';

const out = process.env.SONDE_PROFILE_OUT ?? 'sonde.cpuprofile';
const session = new Session();
session.connect();
let started = false;

process.on('SIGUSR2', () => {
  if (started) return;
  started = true;
  session.post('Profiler.enable', () => session.post('Profiler.setSamplingInterval', { interval: 500 }, () => session.post('Profiler.start')));
});
function stop(): void {
  if (!started) return;
  started = false;
  session.post('Profiler.stop', (err, res) => {
    if (!err) writeFileSync(out, JSON.stringify(res.profile));
  });
}
// Stopped on the shutdown signal (before Sonde's own handler exits), or at exit at the latest.
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('exit', stop);

const cli = (await import(pathToFileURL(join(repoRoot(), 'dist/cli/main.js')).href)) as { main(argv: string[]): Promise<number> };
const code = await cli.main(process.argv.slice(2));
if (typeof code === 'number') process.exitCode = code;
