#!/usr/bin/env bash
# A private Prometheus (Debian package `prometheus`) on 127.0.0.1 for trying Sonde's Prometheus
# exporters by hand. The test suite does the same from test/prometheus/support/prometheus-server.ts.
#
#   scripts/prometheus.sh check   verify the binary has the remote-write receiver
#   scripts/prometheus.sh start   run it in the background (config, TSDB, pid and log under .cache/prometheus/)
#   scripts/prometheus.sh stop    stop what `start` started
#   scripts/prometheus.sh query Q run an instant PromQL query and print the JSON answer
#
# Environment: PROMETHEUS_PORT=19090 (never the system instance's 9090),
#   SONDE_SCRAPE_TARGET=127.0.0.1:9464 (Sonde's `prometheus` exporter endpoint, scraped every 1 s).
# Remote write goes to http://127.0.0.1:$PROMETHEUS_PORT/api/v1/write.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=$ROOT/.cache/prometheus
PORT=${PROMETHEUS_PORT:-19090}
TARGET=${SONDE_SCRAPE_TARGET:-127.0.0.1:9464}
# shellcheck source=lib/common.sh
. "$ROOT/scripts/lib/common.sh"

check() {
  command -v prometheus >/dev/null || { echo "prometheus.sh: install the Debian package: apt-get install prometheus" >&2; exit 1; }
  local help
  help=$(prometheus --help 2>&1 || true)
  grep -q -- '--web.enable-remote-write-receiver' <<<"$help" || {
    echo "prometheus.sh: this prometheus has no --web.enable-remote-write-receiver (need 2.33 or newer)" >&2
    exit 1
  }
}

start() {
  check
  if bg_running "$STATE/pid"; then
    echo "prometheus.sh: already running (pid $(cat "$STATE/pid")) on 127.0.0.1:$PORT"
    return 0
  fi
  mkdir -p "$STATE/data"
  cat >"$STATE/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: sonde-scrape
    static_configs:
      - targets: ["$TARGET"]
YAML
  bg_start "$STATE/pid" "$STATE/prometheus.log" "http://127.0.0.1:$PORT/-/ready" 20 \
    prometheus --config.file="$STATE/prometheus.yml" --storage.tsdb.path="$STATE/data" \
    --web.listen-address="127.0.0.1:$PORT" --web.enable-remote-write-receiver || exit 1
  echo "prometheus.sh: ready on http://127.0.0.1:$PORT (log $STATE/prometheus.log)"
}

stop() {
  bg_stop "$STATE/pid"
}

query() {
  curl -fsS --get "http://127.0.0.1:$PORT/api/v1/query" --data-urlencode "query=$1"
  echo
}

case "${1:-}" in
  check) check ;;
  start) start ;;
  stop) stop ;;
  query) query "${2:?usage: prometheus.sh query PROMQL}" ;;
  *) echo "usage: $0 check|start|stop|query PROMQL" >&2; exit 2 ;;
esac
