#!/usr/bin/env bash
# Build the BPF object (CO-RE, clang) and its libbpf skeleton into bpf/.output/.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bpf/.output
mkdir -p "$out"
clang=$(command -v clang-16 || command -v clang)
btf=${DROPTRACE_BTF:-/sys/kernel/btf/vmlinux}
[ -r "$btf" ] || { echo "build-bpf: no kernel BTF at $btf (set DROPTRACE_BTF to a vmlinux with BTF)" >&2; exit 1; }
# vmlinux.h only names types: CO-RE relocates every access at load time, on any kernel with BTF
[ -s "$out/vmlinux.h" ] || bpftool btf dump file "$btf" format c > "$out/vmlinux.h"
arch=$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
"$clang" -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_"$arch" \
  -I"$out" -Ibpf -c bpf/droptrace.bpf.c -o "$out/droptrace.tmp.o"
bpftool gen object "$out/droptrace.bpf.o" "$out/droptrace.tmp.o"
bpftool gen skeleton "$out/droptrace.bpf.o" name droptrace_bpf > "$out/droptrace.skel.h"
rm -f "$out/droptrace.tmp.o"
echo "build-bpf: $out/droptrace.bpf.o and droptrace.skel.h"
