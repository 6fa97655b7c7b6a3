#!/usr/bin/env bash
# Runs a command the way the deployment would, without touching this host: in new mount and
# network namespaces (so /opt, /etc, /var/lib and ports are private to the run), with staged
# trees laid over system directories, optionally with systemd's file-system sandbox emulated.
# Must run as root. Used by test/deploy/*.test.ts.
#
#   sandbox.sh [--host-net] [--overlay DIR=UPPER]... [--state DIR] [--protect] --work TMP -- COMMAND...
#
#   --host-net           keep the host's network namespace (e.g. for npm ci); default: a new one
#   --overlay DIR=UPPER  overlayfs: UPPER's files appear inside DIR, the rest of DIR stays visible
#   --state DIR          a writable directory (systemd StateDirectory=: survives ProtectSystem)
#   --protect            emulate ProtectSystem=strict (everything read-only but /dev, /proc, /sys
#                        and --state dirs), ProtectHome=yes and PrivateTmp=yes
#   --work TMP           empty scratch directory for overlay work dirs
# Without --host-net the COMMAND runs with only loopback (up) in a new network namespace, so the
# ports Sonde's configs use (8888, 9464, 4317, 4318) are free and nothing leaves the machine.
set -euo pipefail

if [ "${SONDE_SANDBOX_INNER:-}" != 1 ]; then
  net=--net
  for a in "$@"; do
    [ "$a" = -- ] && break
    [ "$a" = --host-net ] && net=""
  done
  exec env SONDE_SANDBOX_INNER=1 unshare --mount $net --propagation private -- bash "$0" "$@"
fi

overlays=()
states=()
protect=0
hostnet=0
work=""
while [ $# -gt 0 ]; do
  case "$1" in
    --overlay) overlays+=("$2"); shift 2 ;;
    --state) states+=("$2"); shift 2 ;;
    --protect) protect=1; shift ;;
    --host-net) hostnet=1; shift ;;
    --work) work="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "sandbox.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$work" ] || { echo "sandbox.sh: --work is required" >&2; exit 2; }

[ "$hostnet" = 1 ] || ip link set lo up

i=0
for spec in "${overlays[@]}"; do
  dir=${spec%%=*}
  upper=${spec#*=}
  i=$((i + 1))
  mkdir -p "$work/ovl-work-$i"
  mount -t overlay overlay -o "lowerdir=$dir,upperdir=$upper,workdir=$work/ovl-work-$i" "$dir"
done

if [ "$protect" = 1 ]; then
  # PrivateTmp=yes
  mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
  mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp
  # ProtectHome=yes
  for d in /home /root /run/user; do
    if [ -d "$d" ]; then mount -t tmpfs -o ro,mode=0755 tmpfs "$d"; fi
  done
  # ProtectSystem=strict: every mount read-only except the API file systems, the private /tmp
  # and the state directories.
  for d in "${states[@]}"; do mount --bind "$d" "$d"; done
  findmnt -rn -o TARGET | sort -u | while read -r m; do
    case "$m" in
      /dev|/dev/*|/proc|/proc/*|/sys|/sys/*|/tmp|/var/tmp) continue ;;
    esac
    skip=0
    for d in "${states[@]}"; do [ "$m" = "$d" ] && skip=1; done
    [ "$skip" = 1 ] || mount -o remount,bind,ro "$m" 2>/dev/null || true
  done
fi

exec "$@"
