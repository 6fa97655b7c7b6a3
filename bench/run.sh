#!/usr/bin/env bash
# One command per benchmark, from a fresh checkout:  npm run bench:NAME  (= bash bench/run.sh NAME)
# NAME: ingest | overhead | export | memory. Installs what the benchmark needs (guarded, Debian),
# builds Sonde (dist/) and the benchmark code (bench/.cache/dist), then runs it. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: bench/run.sh ingest|overhead|export|memory}
case "$name" in ingest|overhead|export|memory) ;; *) echo "bench: unknown benchmark '$name'" >&2; exit 2 ;; esac

# shellcheck source=../scripts/lib/common.sh
. scripts/lib/common.sh # retry: the same bounded retries as the test setup
apt_updated=0
need() { # need COMMAND-OR-FILE PACKAGE...
  if command -v "$1" >/dev/null 2>&1 || [ -e "$1" ]; then return 0; fi
  command -v apt-get >/dev/null 2>&1 || { echo "bench: $1 is missing; install: ${*:2}" >&2; exit 1; }
  if [ "$apt_updated" = 0 ]; then retry apt-get -o DPkg::Lock::Timeout=300 update -qq >&2; apt_updated=1; fi
  retry env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${@:2}" >&2
}

[ -d node_modules ] || npm ci --no-audit --no-fund >&2
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then export PATH="$PATH:/usr/local/go/bin"; fi
case "$name" in
  ingest)
    need clang clang
    need cc gcc
    need /usr/include/bpf/libbpf.h libbpf-dev
    ;;
  overhead|memory|export)
    # The OTLP sink and load generator (bench/export/otlpbench) and the Collector peer are Go.
    command -v go >/dev/null 2>&1 || { echo "bench: Go 1.24 or newer is needed on PATH (https://go.dev/dl/)" >&2; exit 1; }
    ;;&
  overhead|memory)
    need wrk wrk
    need nginx nginx-light
    if [ ! -f bpf/out/tcp.bpf.o ] || [ ! -f bpf/out/http.bpf.o ]; then
      need clang clang; need llvm-strip llvm; need /usr/include/bpf/libbpf.h libbpf-dev
      npm run -s build:bpf >&2
    fi
    ;;
esac
# Type errors elsewhere in the tree (other work in progress) must not stop a benchmark: tsc
# still emits, and a real breakage shows up when the benchmark runs.
npx tsc -p tsconfig.json >&2 || echo "bench: warning: tsc reported type errors (see above)" >&2
npx tsc -p bench/tsconfig.json >&2 || echo "bench: warning: tsc reported type errors in bench/ or what it imports" >&2
exec node bench/.cache/dist/bench/"$name"/run.js
