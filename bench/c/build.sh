#!/usr/bin/env bash
# Builds the bench's C reference consumers into bench/.output/: the floor's BPF object and
# skeleton, and `consumer` (floor and stream modes), against droptrace's own skeleton
# (bpf/.output, made by npm run build:bpf).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=bench/.output
mkdir -p "$out"
[ -s bpf/.output/droptrace.skel.h ] || { echo "bench/c/build.sh: run npm run build:bpf first" >&2; exit 1; }
clang=$(command -v clang-16 || command -v clang)
arch=$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
"$clang" -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_"$arch" -Ibpf/.output -c bench/c/floor.bpf.c -o "$out/floor.tmp.o"
bpftool gen object "$out/floor.bpf.o" "$out/floor.tmp.o"
bpftool gen skeleton "$out/floor.bpf.o" name floor_bpf > "$out/floor.skel.h"
rm -f "$out/floor.tmp.o"
cc -O2 -Wall -Wextra -Ibpf -Ibpf/.output -I"$out" -o "$out/consumer" bench/c/consumer.c $(pkg-config --libs libbpf)
