#!/usr/bin/env bash
# Installs Sonde as a systemd service on this host (run as root from a checkout of the repository):
#   - a locked system user and group `sonde`
#   - the application in /opt/sonde (compiled dist/, bin/, bpf/out/, production node_modules)
#   - the config in /etc/sonde/pipeline.config.yaml (an existing one is never overwritten)
#   - the unit in /etc/systemd/system/sonde.service, enabled; started only with --start
# Running it again upgrades /opt/sonde and the unit in place. See docs/deployment.md.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: deploy/systemd/install.sh [options]
  --config FILE   config to install as /etc/sonde/pipeline.config.yaml when none exists yet
                  (default: deploy/systemd/pipeline.config.yaml)
  --start         also (re)start the service now
  --no-enable     do not run systemctl at all (enable/start/daemon-reload)
  --root DIR      install under DIR instead of / (staging or packaging); implies --no-enable and
                  does not create the user
  --uninstall     stop and disable the service, remove the unit and /opt/sonde; keeps /etc/sonde,
                  /var/lib/sonde and the user (remove those by hand, see docs/deployment.md)
  -h, --help      this text
USAGE
}

SRC=$(cd "$(dirname "$0")/../.." && pwd)
CONFIG="$SRC/deploy/systemd/pipeline.config.yaml"
ROOT=""
START=0
ENABLE=1
UNINSTALL=0
while [ $# -gt 0 ]; do
  case "$1" in
    --config) CONFIG=$(realpath "$2"); shift 2 ;;
    --start) START=1; shift ;;
    --no-enable) ENABLE=0; shift ;;
    --root) ROOT=$(realpath -m "$2"); ENABLE=0; shift 2 ;;
    --uninstall) UNINSTALL=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

APP="$ROOT/opt/sonde"
ETC="$ROOT/etc/sonde"
UNITS="$ROOT/etc/systemd/system"
UNIT="$UNITS/sonde.service"
have_systemd() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }
log() { echo "install.sh: $*"; }

if [ "$(id -u)" != 0 ] && [ -z "$ROOT" ]; then
  echo "install.sh: run as root (creates a user, writes /opt, /etc and systemd units)" >&2
  exit 1
fi

if [ "$UNINSTALL" = 1 ]; then
  if [ "$ENABLE" = 1 ] && have_systemd; then systemctl disable --now sonde.service || true; fi
  rm -f "$UNIT" "$UNITS/sonde-tracefs.service" "$UNITS/multi-user.target.wants/sonde.service"
  rm -rf "$APP"
  if [ "$ENABLE" = 1 ] && have_systemd; then systemctl daemon-reload; fi
  log "removed the unit and $APP; kept $ETC, $ROOT/var/lib/sonde and the sonde user"
  exit 0
fi

# --- prerequisites -----------------------------------------------------------------------------
command -v node >/dev/null 2>&1 || { echo "install.sh: Node.js 20 or newer is required (node not found)" >&2; exit 1; }
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || { echo "install.sh: Node.js >= 20 required, found $(node -v)" >&2; exit 1; }
[ -f "$CONFIG" ] || { echo "install.sh: config $CONFIG not found" >&2; exit 1; }
# Captured, not piped into grep -q: that dies of SIGPIPE at random under pipefail.
ld_cache=$(ldconfig -p 2>/dev/null) || true
if ! awk '$1 == "libbpf.so.1" { found = 1 } END { exit !found }' <<<"$ld_cache"; then
  log "warning: libbpf.so.1 not found; the ebpf receiver needs it (Debian/Ubuntu: apt-get install libbpf1)"
fi

# The compiled JavaScript comes from this checkout; build it when missing (needs dev dependencies).
if [ ! -f "$SRC/dist/cli/main.js" ]; then
  log "building dist/ in $SRC"
  (cd "$SRC" && npm ci --no-audit --no-fund && npm run build)
fi

# --- user --------------------------------------------------------------------------------------
if [ -z "$ROOT" ] && ! id -u sonde >/dev/null 2>&1; then
  log "creating system user sonde"
  useradd --system --user-group --home-dir /var/lib/sonde --no-create-home --shell /usr/sbin/nologin sonde
fi

# --- application -------------------------------------------------------------------------------
# Built next to the old copy, then swapped in, so a failed upgrade leaves the running version intact.
stage="$APP.new"
rm -rf "$stage"
mkdir -p "$stage"
cp -a "$SRC/package.json" "$SRC/package-lock.json" "$SRC/bin" "$SRC/dist" "$stage/"
mkdir -p "$stage/bpf" "$stage/docs"
cp -a "$SRC/bpf/out" "$stage/bpf/"
cp -a "$SRC"/docs/*.md "$stage/docs/" 2>/dev/null || true
# --ignore-scripts: dist/ is already compiled (the `prepare` script would need the TypeScript
# compiler, a dev dependency); koffi ships its native module prebuilt.
(cd "$stage" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
chmod -R u=rwX,go=rX "$stage"
if [ -e "$APP" ]; then rm -rf "$APP.old" && mv "$APP" "$APP.old"; fi
mv "$stage" "$APP"
rm -rf "$APP.old"
log "installed $APP ($(node -p "require('$APP/package.json').version"))"

# --- config ------------------------------------------------------------------------------------
mkdir -p "$ETC"
if [ -e "$ETC/pipeline.config.yaml" ]; then
  if ! cmp -s "$CONFIG" "$ETC/pipeline.config.yaml"; then
    install -m 0644 "$CONFIG" "$ETC/pipeline.config.yaml.dist"
    log "kept your $ETC/pipeline.config.yaml; the shipped one is in pipeline.config.yaml.dist"
  fi
else
  install -m 0644 "$CONFIG" "$ETC/pipeline.config.yaml"
  log "installed $ETC/pipeline.config.yaml"
fi
if [ -z "$ROOT" ] && ! node "$APP/bin/sonde" validate --config "$ETC/pipeline.config.yaml" >/dev/null; then
  # A warning only: a config may use ${env:...} variables that only the unit's environment sets.
  log "warning: $ETC/pipeline.config.yaml does not validate here (problems above); fix it before starting"
fi

# --- units -------------------------------------------------------------------------------------
install -D -m 0644 "$SRC/deploy/systemd/sonde.service" "$UNIT"
install -D -m 0644 "$SRC/deploy/systemd/sonde-tracefs.service" "$UNITS/sonde-tracefs.service"
log "installed $UNIT and sonde-tracefs.service"

if [ "$ENABLE" = 1 ] && command -v systemctl >/dev/null 2>&1; then
  # `enable` only creates symlinks, so it works while systemd is not running (images, chroots).
  systemctl enable sonde.service
  if have_systemd; then
    systemctl daemon-reload
    if [ "$START" = 1 ]; then
      systemctl restart sonde.service
      log "started; check with: systemctl status sonde && curl -s 127.0.0.1:8888/readyz"
    else
      log "enabled; start it with: systemctl start sonde"
    fi
  else
    log "enabled; systemd is not running here, so nothing was started"
  fi
fi
