#!/usr/bin/env bash
# Jaeger v2 for Sonde's OTLP end-to-end tests, on 127.0.0.1 only.
#
#   scripts/jaeger.sh install   build the binary once into $SONDE_TOOL_CACHE/bin (skipped when present)
#   scripts/jaeger.sh path      print the binary path
#   scripts/jaeger.sh config    print a Jaeger config for the ports/storage in the environment
#   scripts/jaeger.sh start     run it in the background (pid and log under .cache/jaeger/)
#   scripts/jaeger.sh stop      stop what `start` started
#
# Environment (defaults avoid Sonde's own 4317/4318/8888):
#   JAEGER_OTLP_GRPC_PORT=14317 JAEGER_OTLP_HTTP_PORT=14318 JAEGER_QUERY_HTTP_PORT=16686
#   JAEGER_QUERY_GRPC_PORT=16685 JAEGER_STORAGE=memory|badger JAEGER_BADGER_DIR=.cache/jaeger/badger
#
# Version: Jaeger v2 is the `cmd/jaeger` binary of the Go module github.com/jaegertracing/jaeger.
# The module path has no /v2 suffix, so the Go module proxy serves each v2.x release under its
# twin v1.x tag: v1.76.0 is Jaeger v2.13.0. `go install module/cmd/jaeger@v1.76.0` refuses the
# module (its go.mod has replace directives), so we `go mod download` it and `go build` inside it,
# which honours those directives. First build: about 10 minutes on 2 cores; later runs reuse it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
JAEGER_MODULE=github.com/jaegertracing/jaeger
JAEGER_VERSION=${JAEGER_VERSION:-v1.76.0}
# The binary lives outside the checkout so a fresh clone on the same machine (CI) reuses it.
SONDE_TOOL_CACHE=${SONDE_TOOL_CACHE:-/var/cache/sonde-test}
BIN=$SONDE_TOOL_CACHE/bin/jaeger-$JAEGER_VERSION
STATE=$ROOT/.cache/jaeger

GRPC_PORT=${JAEGER_OTLP_GRPC_PORT:-14317}
HTTP_PORT=${JAEGER_OTLP_HTTP_PORT:-14318}
QUERY_HTTP_PORT=${JAEGER_QUERY_HTTP_PORT:-16686}
QUERY_GRPC_PORT=${JAEGER_QUERY_GRPC_PORT:-16685}
STORAGE=${JAEGER_STORAGE:-memory}
BADGER_DIR=${JAEGER_BADGER_DIR:-$STATE/badger}

# shellcheck source=lib/common.sh
. "$ROOT/scripts/lib/common.sh"

install() {
  if [ -x "$BIN" ]; then return 0; fi
  # One build at a time (setup scripts and developers may run this concurrently).
  mkdir -p "$(dirname "$BIN")"
  exec 9>"$BIN.lock"
  flock 9
  if [ -x "$BIN" ]; then return 0; fi
  command -v go >/dev/null || { echo "jaeger.sh: Go is needed to build Jaeger (https://go.dev/dl)" >&2; exit 1; }
  local dir json
  json=$(retry go mod download -json "$JAEGER_MODULE@$JAEGER_VERSION") || { echo "$json" >&2; echo "jaeger.sh: go mod download $JAEGER_MODULE@$JAEGER_VERSION failed" >&2; exit 1; }
  dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$json" | tail -n 1)
  [ -d "$dir" ] || { echo "jaeger.sh: go mod download $JAEGER_MODULE@$JAEGER_VERSION failed" >&2; exit 1; }
  echo "jaeger.sh: building Jaeger $JAEGER_VERSION (first time only, several minutes)" >&2
  # Only the downloads are retried: a failed compile would fail the same way again, 10 minutes later.
  (cd "$dir" && retry go mod download && go build -trimpath -o "$BIN.tmp" ./cmd/jaeger)
  mv "$BIN.tmp" "$BIN"
}

config() {
  local backend
  if [ "$STORAGE" = badger ]; then
    backend="badger: { directories: { keys: \"$BADGER_DIR/keys\", values: \"$BADGER_DIR/values\" }, ephemeral: false }"
  else
    backend="memory: { max_traces: 100000 }"
  fi
  cat <<YAML
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics: { level: none }
    logs: { level: warn }
extensions:
  jaeger_storage:
    backends:
      store: { $backend }
  jaeger_query:
    storage: { traces: store }
    max_clock_skew_adjust: 0s
    http: { endpoint: "127.0.0.1:$QUERY_HTTP_PORT" }
    grpc: { endpoint: "127.0.0.1:$QUERY_GRPC_PORT" }
receivers:
  otlp:
    protocols:
      grpc: { endpoint: "127.0.0.1:$GRPC_PORT" }
      http: { endpoint: "127.0.0.1:$HTTP_PORT" }
exporters:
  jaeger_storage_exporter: { trace_storage: store }
YAML
}

start() {
  install
  mkdir -p "$STATE"
  if bg_running "$STATE/pid"; then echo "jaeger.sh: already running (pid $(cat "$STATE/pid"))"; return 0; fi
  config >"$STATE/config.yaml"
  bg_start "$STATE/pid" "$STATE/jaeger.log" "http://127.0.0.1:$QUERY_HTTP_PORT/api/services" 30 "$BIN" --config "$STATE/config.yaml" || exit 1
  echo "jaeger.sh: up (pid $(cat "$STATE/pid")): OTLP grpc 127.0.0.1:$GRPC_PORT http 127.0.0.1:$HTTP_PORT, UI/API http://127.0.0.1:$QUERY_HTTP_PORT"
}

stop() {
  bg_stop "$STATE/pid"
}

case "${1:-}" in
  install) install ;;
  path) echo "$BIN" ;;
  config) config ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 install|path|config|start|stop" >&2; exit 2 ;;
esac
