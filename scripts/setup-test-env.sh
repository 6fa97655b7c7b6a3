#!/usr/bin/env bash
# Installs and prepares everything the test suite needs on a fresh Debian 12 machine (root).
# Idempotent: safe to run again. Each feature area appends its own section below.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "setup-test-env: must run as root (installs Debian packages, mounts tracefs)" >&2
  exit 1
fi

# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh" # retry (bounded retries for apt and the Go module proxy), has_lib

# --- Debian packages --------------------------------------------------------------------------
# One list for every area, so `apt-get update` runs at most once:
#   eBPF build and tests: clang llvm libbpf-dev bpftool libbpf1 bpftrace
#   backends and load: nginx-light prometheus wrk curl python3; TLS test certificates: openssl
#   namespaces, capabilities: iproute2 libcap2-bin util-linux; packet loss in a test's netns: nftables
#   deployment tests: systemd systemd-container (systemd-analyze, nspawn)
#   committed BPF objects compared with their committed bytes: git
PKGS=(clang llvm libbpf-dev bpftool libbpf1 bpftrace nginx-light prometheus wrk curl python3 openssl
  iproute2 libcap2-bin util-linux nftables systemd systemd-container git)
missing=()
for p in "${PKGS[@]}"; do [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = 'install ok installed' ] || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-test-env: installing ${missing[*]}"
  # DPkg::Lock::Timeout: wait for another apt/dpkg (a concurrent setup) instead of failing at once.
  retry apt-get -o DPkg::Lock::Timeout=300 update -qq
  retry env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${missing[@]}" >/dev/null
fi
# Debian starts these services on install; the tests run their own instances on 127.0.0.1.
for svc in nginx prometheus; do
  if command -v systemctl >/dev/null 2>&1; then systemctl stop "$svc" >/dev/null 2>&1 || true; fi
done
# Only the Debian service's instance (it runs as user prometheus; without systemd as PID 1 its init
# script started it): a test's or a concurrent run's own Prometheus runs as root and is left alone.
pkill -x -u prometheus prometheus >/dev/null 2>&1 || true

# --- Kernel interfaces ------------------------------------------------------------------------
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

# --- OTLP end to end: Jaeger v2 (test/otlp) -----------------------------------------------------
# openssl (package list above) makes throwaway certificates for the TLS tests.
# Jaeger is built from its Go module into /var/cache/sonde-test/bin once (10 to 20 minutes on 2 busy cores);
# later runs reuse the binary.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then export PATH="$PATH:/usr/local/go/bin"; fi
# Go keeps its module and build caches under HOME; CI may run with a bare environment.
export HOME="${HOME:-/root}"
if ! command -v go >/dev/null 2>&1; then
  echo "setup-test-env: Go (1.24 or newer) is needed to build Jaeger for the OTLP tests" >&2
  exit 1
fi
bash scripts/jaeger.sh install

# --- Prometheus exporters (test/prometheus) -----------------------------------------------------
# The `prometheus` package above; tests run their own instance on a free 127.0.0.1 port with a temp
# TSDB and --web.enable-remote-write-receiver (Prometheus 2.33 or newer; Debian 12 ships 2.42).
bash scripts/prometheus.sh check

# --- eBPF HTTP capture (test/ebpf/http-*.test.ts) -----------------------------------------------
# curl, nginx-light and python3 come from the package list above; the tests start their own nginx
# (master_process off, temp prefix) on 127.0.0.1. The cgroup filter test needs a writable cgroup2
# hierarchy: systemd hosts have one; elsewhere mount it (hybrid layout when v1 owns /sys/fs/cgroup).
if ! awk '$3 == "cgroup2" { found = 1 } END { exit !found }' /proc/self/mounts; then
  if mountpoint -q /sys/fs/cgroup; then
    mkdir -p /sys/fs/cgroup/unified && mount -t cgroup2 none /sys/fs/cgroup/unified
  else
    mount -t cgroup2 none /sys/fs/cgroup
  fi
fi
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { echo "setup-test-env: nginx missing (nginx-light)" >&2; exit 1; }

# --- eBPF receiver: libbpf layer and TCP capture (test/ebpf/, issue 3) ----------------------------
# clang, llvm, libbpf-dev, bpftool and libbpf1 come from the package list above; tracefs is mounted
# above. scripts/test.sh then rebuilds bpf/out/*.bpf.o from source (`npm run build:bpf`), and the
# tests load those.
for tool in clang llvm-strip bpftool; do
  command -v "$tool" >/dev/null 2>&1 || { echo "setup-test-env: $tool missing (clang llvm bpftool)" >&2; exit 1; }
done
has_lib libbpf.so.1 || { echo "setup-test-env: libbpf.so.1 not in the linker cache (package libbpf1; dpkg says: $(dpkg-query -W -f='${Status}' libbpf1 2>&1))" >&2; exit 1; }
[ -r /sys/kernel/btf/vmlinux ] || echo "setup-test-env: WARNING: /sys/kernel/btf/vmlinux missing: eBPF tests will fail (kernel without BTF)" >&2

# --- k8sattributes / resourcedetection processors (test/k8s, test/resourcedetection, issue 7) -----
# No cluster needed: the tests run their own fake Kubernetes API server on 127.0.0.1 and reach it
# through a temp kubeconfig. The cgroup association tests create pod-layout cgroups under the
# writable cgroup2 hierarchy mounted in the eBPF HTTP section above (root required); the v1 case
# runs only where a v1 `pids` hierarchy exists. /bin/sleep (coreutils) is the test child.
awk '$3 == "cgroup2" { found = 1 } END { exit !found }' /proc/self/mounts || { echo "setup-test-env: no cgroup2 hierarchy mounted" >&2; exit 1; }
[ -x /bin/sleep ] || { echo "setup-test-env: /bin/sleep missing (coreutils)" >&2; exit 1; }

# --- Deployment: systemd unit, Kubernetes manifests (test/deploy, issue 10) ---------------------
# systemd-analyze (package systemd; works without a running systemd), util-linux (unshare, nsenter,
# setpriv, findmnt), overlayfs and systemd-nspawn (systemd-container: boots systemd in a container
# to start the installed unit for real) for the sandboxed runs (install.sh and Sonde run in private
# mount and network namespaces, so the host gets no user, no /opt/sonde), and kustomize (Go module)
# in /usr/local/lib/sonde-test-tools, version pinned, rebuilt only when missing or different. The
# manifests' schema check needs nothing here: it is the npm devDependency kubernetes-models.
DEPLOY_TOOLS=/usr/local/lib/sonde-test-tools
KUSTOMIZE_VERSION=v5.5.0
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || { echo "setup-test-env: overlayfs unavailable (test/deploy needs it)" >&2; exit 1; }
# (`kustomize version` says "(devel)" for go-installed builds; the module version is in the binary.)
# (The listing is captured first: `go version -m | grep -q` dies of SIGPIPE at random under pipefail.)
kustomize_build=$(go version -m "$DEPLOY_TOOLS/bin/kustomize" 2>/dev/null) || true
if ! grep -Eq "^\s+mod\s+sigs.k8s.io/kustomize/kustomize/v5\s+$KUSTOMIZE_VERSION\s" <<<"$kustomize_build"; then
  echo "setup-test-env: building kustomize $KUSTOMIZE_VERSION"
  retry env GOBIN="$DEPLOY_TOOLS/bin" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
fi

echo "setup-test-env: ready"
