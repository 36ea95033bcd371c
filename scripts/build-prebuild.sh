#!/usr/bin/env bash
# Builds the addon that the npm package ships: prebuilds/linux-x64/droptrace.napi.node, with
# libbpf, libelf and zlib linked in (scripts/build-static-deps.sh), Node-API 8 (every Node from 20
# on loads it). Then checks what it asks of the system it lands on: glibc's libraries and the
# libstdc++ that node is linked with, no glibc symbol newer than GLIBC_MAX and no libstdc++ symbol
# newer than GLIBCXX_MAX (2.34 and 3.4.29, GCC 11: Ubuntu 22.04 and RHEL 9 userlands).
# Needs bpf/.output/droptrace.skel.h (scripts/build-bpf.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
GLIBC_MAX=2.34
GLIBCXX_MAX=3.4.29
platform=$(node -p 'process.platform + "-" + process.arch')
out=prebuilds/$platform
[ -s bpf/.output/droptrace.skel.h ] || { echo "build-prebuild: no bpf/.output/droptrace.skel.h (npm run build:bpf)" >&2; exit 1; }

prefix=$(bash scripts/build-static-deps.sh)
npx cmake-js compile -d native -O native/build-static --CDDROPTRACE_STATIC_DEPS="$prefix" >&2
addon=native/build-static/Release/droptrace.node
[ -f "$addon" ] || { echo "build-prebuild: cmake-js made no $addon" >&2; exit 1; }

# what the dynamic loader will be asked for
needed=$(readelf -d "$addon" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
for lib in $needed; do
  case $lib in
    libc.so.6 | libm.so.6 | libstdc++.so.6 | libgcc_s.so.1 | ld-linux-x86-64.so.2 | ld-linux-aarch64.so.1) ;;
    *) echo "build-prebuild: $addon needs $lib; only glibc's and node's own libraries may be needed" >&2; exit 1 ;;
  esac
done
highest() { objdump -T "$addon" | grep -o "($1_[0-9][0-9.]*)" | tr -d '()' | sed "s/$1_//" | sort -uV | tail -1; }
at_most() { # <symbol version prefix> <highest allowed>
  local v
  v=$(highest "$1")
  if [ -n "$v" ] && [ "$(printf '%s\n%s\n' "$v" "$2" | sort -V | tail -1)" != "$2" ]; then
    echo "build-prebuild: $addon needs $1_$v, newer than $1_$2:" >&2
    objdump -T "$addon" | grep -F "($1_$v)" >&2
    exit 1
  fi
}
at_most GLIBC "$GLIBC_MAX"
at_most GLIBCXX "$GLIBCXX_MAX"
glibc=$(highest GLIBC)

mkdir -p "$out"
strip --strip-unneeded -o "$out/droptrace.napi.node" "$addon"
echo "build-prebuild: $out/droptrace.napi.node ($(stat -c %s "$out/droptrace.napi.node") bytes), needs $needed(highest GLIBC_$glibc)" >&2
