export const HELP: Record<string, string> = {
  main: `Usage: sonde <command> [options]

Commands:
  run         run the pipelines of a config file until SIGTERM/SIGINT (SIGHUP reloads)
  validate    check a config file and print the resolved pipeline graph
  doctor      report what this host supports and which receiver features will work
  components  list every component type with its stability
  version     print the version

Run "sonde <command> --help" for the options of a command.`,
  run: `Usage: sonde run [--config FILE] [--shutdown-timeout DURATION]

Runs the pipelines in FILE (default: pipeline.config.yaml) until SIGTERM or SIGINT, then stops
intake, flushes every pipeline within the shutdown timeout (default 10s) and exits 0.
SIGHUP reloads FILE; a file with problems is rejected and the running pipelines are kept.
The ebpf receiver needs root (or CAP_BPF and CAP_PERFMON, plus CAP_DAC_READ_SEARCH when not uid 0);
"sonde doctor" tells what is missing.`,
  validate: `Usage: sonde validate [--config FILE]

Exits 0 and prints the resolved pipeline graph, or exits 1 and prints every problem, each with
its key path and file:line:col. Warnings (such as unused components) do not fail validation.`,
  doctor: `Usage: sonde doctor

Reports BTF, tracefs, bpffs, capabilities, each hook of the eBPF ladder, and which receiver
features will therefore work on this host. Exits 0 when TCP and HTTP capture can work, else 1.`,
  components: `Usage: sonde components

Lists every receiver, processor and exporter type with its stability and signals.`,
  version: `Usage: sonde version`,
};
