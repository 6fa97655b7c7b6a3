# Shell helpers shared by scripts/*.sh (sourced, not run).

# retry CMD ARGS...: a network step (apt, Go module proxy) gets three tries, 15 s then 30 s
# apart, so that one transient failure of a registry does not fail a whole CI run.
retry() {
  local attempt
  for attempt in 1 2 3; do
    "$@" && return 0
    [ "$attempt" = 3 ] && break
    echo "$(basename "$0"): attempt $attempt of 3 failed: $*; retrying in $((attempt * 15)) s" >&2
    sleep $((attempt * 15))
  done
  echo "$(basename "$0"): giving up after 3 attempts: $*" >&2
  return 1
}

# bg_running PIDFILE: true when the process recorded in PIDFILE is alive.
bg_running() {
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

# bg_start PIDFILE LOG READY_URL TIMEOUT_S CMD ARGS...: runs CMD in the background with its output
# in LOG, records its pid, and waits up to TIMEOUT_S seconds for READY_URL to answer 2xx.
# On timeout it stops the process again and fails.
bg_start() {
  local pidfile=$1 log=$2 url=$3 timeout=$4
  shift 4
  nohup "$@" >"$log" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 $((timeout * 5))); do
    curl -fsS "$url" >/dev/null 2>&1 && return 0
    bg_running "$pidfile" || break # it exited: no use waiting
    sleep 0.2
  done
  echo "$(basename "$0"): $1 did not become ready at $url; see $log" >&2
  bg_stop "$pidfile"
  return 1
}

# bg_stop PIDFILE: SIGTERM, up to 10 s to exit, then SIGKILL; forgets the pid.
bg_stop() {
  local pidfile=$1 pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$pidfile"
}

# has_lib SONAME: true when the dynamic linker's cache lists SONAME (e.g. libbpf.so.1). When it does
# not, the cache is rebuilt once (a package unpacked without its ldconfig trigger) and asked again.
# `ldconfig -p | grep -q` is not used: under `set -o pipefail`, grep -q exits at the first match and
# ldconfig, still writing, dies of SIGPIPE, so the check fails at random on a busy machine.
has_lib() {
  local listing
  listing=$(ldconfig -p 2>/dev/null) || true
  if ! awk -v so="$1" '$1 == so { found = 1 } END { exit !found }' <<<"$listing"; then
    ldconfig 2>/dev/null || true
    listing=$(ldconfig -p 2>/dev/null) || true
  fi
  awk -v so="$1" '$1 == so { found = 1 } END { exit !found }' <<<"$listing"
}
