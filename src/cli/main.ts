import { parseArgs } from 'node:util';
import { HELP } from './help.js';
import { componentsCommand, runCommand, validateCommand, versionCommand } from './commands.js';

const out = (line: string): void => void process.stdout.write(`${line}\n`);
const err = (line: string): void => void process.stderr.write(`${line}\n`);

const CONFIG_OPTION = { config: { type: 'string' as const, short: 'c', default: 'pipeline.config.yaml' } };

/** The CLI entry point; returns the exit code. Only bin/sonde exits the process. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    out(HELP.main!);
    return command ? 0 : 1;
  }
  if (!(command in HELP) || command === 'main') {
    err(`sonde: unknown command "${command}"\n\n${HELP.main}`);
    return 1;
  }
  const options = {
    help: { type: 'boolean' as const, short: 'h' },
    ...(command === 'run' || command === 'validate' ? CONFIG_OPTION : {}),
    ...(command === 'run' ? { 'shutdown-timeout': { type: 'string' as const, default: '10s' } } : {}),
  };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: rest, options, allowPositionals: false, strict: true }));
  } catch (e) {
    err(`sonde ${command}: ${(e as Error).message}\n\n${HELP[command]}`);
    return 1;
  }
  if (values.help) {
    out(HELP[command]!);
    return 0;
  }
  switch (command) {
    case 'validate':
      return validateCommand(values.config as string, out, err);
    case 'components':
      return componentsCommand(out);
    case 'version':
      return versionCommand(out);
    case 'run': {
      const code = await runCommand(values.config as string, values['shutdown-timeout'] as string, err);
      // Libraries (gRPC channels, informers) may hold handles after a clean shutdown; the CLI owns the exit.
      setImmediate(() => process.exit(code));
      return code;
    }
    case 'doctor':
      return doctorCommand();
    default:
      return 1;
  }
}

async function doctorCommand(): Promise<number> {
  // The doctor lives with the eBPF receiver; loaded lazily so other commands never touch libbpf.
  const doctorModule = '../receivers/ebpf/doctor.js';
  try {
    const mod = (await import(doctorModule)) as {
      runDoctor(): Promise<unknown>;
      formatDoctorReport(r: unknown): string;
      doctorExitCode?(r: unknown): number;
    };
    const report = await mod.runDoctor();
    out(mod.formatDoctorReport(report));
    return mod.doctorExitCode ? mod.doctorExitCode(report) : 0;
  } catch (e) {
    err(`sonde doctor: ${(e as Error).message}`);
    return 1;
  }
}
