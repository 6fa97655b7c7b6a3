#!/usr/bin/env bash
# Installs and prepares everything the test suite needs on a fresh Debian 12 machine (root).
# Idempotent: safe to run again. Each feature area appends its own section below.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "setup-test-env: must run as root (installs Debian packages, mounts tracefs)" >&2
  exit 1
fi

# --- Debian packages --------------------------------------------------------------------------
PKGS=(clang llvm libbpf-dev bpftool libbpf1 nginx-light prometheus wrk bpftrace libcap2-bin iproute2 curl python3)
missing=()
for p in "${PKGS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-test-env: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Debian starts these services on install; the tests run their own instances on 127.0.0.1.
for svc in nginx prometheus; do
  if command -v systemctl >/dev/null 2>&1; then systemctl stop "$svc" >/dev/null 2>&1 || true; fi
done
pkill -x prometheus >/dev/null 2>&1 || true

# --- Kernel interfaces ------------------------------------------------------------------------
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

echo "setup-test-env: ready"
