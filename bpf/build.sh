#!/usr/bin/env bash
# Rebuilds Sonde's BPF objects from source: bpf/*.bpf.c -> bpf/out/*.bpf.o (CO-RE, BTF kept).
# Needs clang, llvm and libbpf-dev (headers); bpftool only to regenerate vmlinux.h.
#   npm run build:bpf                 # compile against the committed bpf/vmlinux.h
#   SONDE_REGEN_VMLINUX=1 npm run build:bpf   # first regenerate vmlinux.h from this kernel's BTF
# A new program: add bpf/NAME.bpf.c (+ bpf/NAME.h); every *.bpf.c here is built.
set -euo pipefail
cd "$(dirname "$0")"

CLANG=${CLANG:-clang}
for tool in "$CLANG" llvm-strip; do
  command -v "$tool" >/dev/null 2>&1 || { echo "build-bpf: $tool not found (apt-get install clang llvm libbpf-dev bpftool)" >&2; exit 1; }
done
[ -f /usr/include/bpf/bpf_helpers.h ] || { echo "build-bpf: libbpf headers missing (apt-get install libbpf-dev)" >&2; exit 1; }

if [ "${SONDE_REGEN_VMLINUX:-0}" = 1 ] || [ ! -s vmlinux.h ]; then
  command -v bpftool >/dev/null 2>&1 || { echo "build-bpf: bpftool not found" >&2; exit 1; }
  [ -r /sys/kernel/btf/vmlinux ] || { echo "build-bpf: /sys/kernel/btf/vmlinux missing: this kernel has no BTF" >&2; exit 1; }
  bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h.tmp
  mv vmlinux.h.tmp vmlinux.h
  echo "build-bpf: regenerated vmlinux.h"
fi

arch=$(uname -m)
case "$arch" in
  x86_64) target_arch=x86 ;;
  aarch64) target_arch=arm64 ;;
  *) target_arch=$arch ;;
esac

mkdir -p out
for src in *.bpf.c; do
  obj="out/${src%.c}.o"
  # -fdebug-prefix-map: the BTF line info names sources relative to bpf/, so the objects are the
  # same bytes whatever the checkout path (the committed ones match a fresh build).
  "$CLANG" -g -O2 -Wall -target bpf -D__TARGET_ARCH_${target_arch} -fdebug-prefix-map="$PWD"=. \
    -I. -I/usr/include/$(uname -m)-linux-gnu -c "$src" -o "$obj.tmp"
  # Keep BTF (needed for CO-RE), drop DWARF to keep the committed objects small.
  llvm-strip -g "$obj.tmp"
  mv "$obj.tmp" "$obj"
  echo "build-bpf: $obj ($(stat -c %s "$obj") bytes)"
done
