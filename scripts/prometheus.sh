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
  if [ -f "$STATE/pid" ] && kill -0 "$(cat "$STATE/pid")" 2>/dev/null; then
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
  prometheus --config.file="$STATE/prometheus.yml" --storage.tsdb.path="$STATE/data" \
    --web.listen-address="127.0.0.1:$PORT" --web.enable-remote-write-receiver \
    >"$STATE/prometheus.log" 2>&1 &
  echo $! >"$STATE/pid"
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$PORT/-/ready" >/dev/null 2>&1; then
      echo "prometheus.sh: ready on http://127.0.0.1:$PORT (log $STATE/prometheus.log)"
      return 0
    fi
    sleep 0.2
  done
  echo "prometheus.sh: not ready after 20 s; see $STATE/prometheus.log" >&2
  exit 1
}

stop() {
  [ -f "$STATE/pid" ] || return 0
  local pid
  pid=$(cat "$STATE/pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 75); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  fi
  rm -f "$STATE/pid"
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
