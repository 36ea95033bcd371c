#!/usr/bin/env bash
# Minimal Debian root file systems for the install and image tests, made with debootstrap from
# this machine's own Debian mirror:
#   roots.sh node <dir>       minbase bookworm + this machine's node and npm: Node and nothing else
#   roots.sh toolchain <dir>  the same + what the image's build stage needs (clang, bpftool, g++, …)
# The debootstrap result (and the toolchain root) is cached as a tarball under
# $DROPTRACE_TEST_CACHE (default /var/cache/droptrace-test), made once under a lock and reused.
set -euo pipefail
mode=${1:?usage: roots.sh node|toolchain <dir>}
dest=${2:?usage: roots.sh node|toolchain <dir>}
cache=${DROPTRACE_TEST_CACHE:-/var/cache/droptrace-test}
suite=bookworm
# what the Dockerfile's build stage installs when missing; here they are put in the stand-in base
toolchain=(clang-16 bpftool libbpf-dev cmake make g++ pkg-config patch bzip2 xz-utils ca-certificates)
mkdir -p "$cache"

mirror() {
  if [ -n "${DROPTRACE_TEST_DEBIAN_MIRROR:-}" ]; then echo "$DROPTRACE_TEST_DEBIAN_MIRROR"; return; fi
  local m
  m=$(awk -v s="$suite" '/^URIs:/ { u = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) { print u; exit } }' \
    /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$m" ] || m=$(awk -v s="$suite" '$1 == "deb" && $3 == s { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$m" ] || { echo "roots.sh: no Debian $suite mirror in /etc/apt (set DROPTRACE_TEST_DEBIAN_MIRROR)" >&2; exit 1; }
  echo "$m"
}

# <tarball> <function that fills a directory>: makes the tarball once, under a lock
cached() {
  local tarball=$1 fill=$2
  exec 9>"$tarball.lock"
  flock 9
  if [ ! -s "$tarball" ]; then
    local tmp
    tmp=$(mktemp -d "$cache/tmp.XXXXXX")
    "$fill" "$tmp/root" >&2
    tar -C "$tmp/root" --numeric-owner -cf "$tmp/root.tar" .
    mv "$tmp/root.tar" "$tarball"
    rm -rf "$tmp"
  fi
  flock -u 9
}

fill_base() {
  debootstrap --variant=minbase "$suite" "$1" "$(mirror)"
  rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*
}

add_node() {
  local root=$1 node npm
  node=$(realpath "$(command -v node)")
  npm=$(realpath "$(dirname "$node")/../lib/node_modules/npm")
  [ -f "$npm/bin/npm-cli.js" ] || { echo "roots.sh: no npm beside $node" >&2; exit 1; }
  install -D -m755 "$node" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/lib/node_modules"
  cp -a "$npm" "$root/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  # npm's own global configuration as this machine has it (e.g. the CA bundle its registry needs)
  local npmrc=$(dirname "$node")/../etc/npmrc cafile
  if [ -f "$npmrc" ]; then
    install -D -m644 "$npmrc" "$root/usr/local/etc/npmrc"
    cafile=$(sed -n 's/^cafile *= *//p' "$npmrc")
    [ -z "$cafile" ] || install -D -m644 "$cafile" "$root$cafile"
  fi
  chroot "$root" /usr/local/bin/node -e 0 || { echo "roots.sh: node does not run in the minimal root" >&2; exit 1; }
}

fill_toolchain() {
  mkdir -p "$1"
  tar -C "$1" -xf "$base"
  cp /etc/resolv.conf "$1/etc/resolv.conf"
  chroot "$1" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive chroot "$1" apt-get install -y -qq --no-install-recommends "${toolchain[@]}"
  chroot "$1" apt-get clean
  rm -rf "$1"/var/lib/apt/lists/*
  : >"$1/etc/resolv.conf"
}

base=$cache/$suite-minbase.tar
cached "$base" fill_base
case $mode in
  node)
    mkdir -p "$dest"
    tar -C "$dest" -xf "$base"
    ;;
  toolchain)
    key=$(printf '%s\n' "${toolchain[@]}" | sha256sum | cut -c1-12)
    cached "$cache/$suite-toolchain-$key.tar" fill_toolchain
    mkdir -p "$dest"
    tar -C "$dest" -xf "$cache/$suite-toolchain-$key.tar"
    ;;
  *) echo "roots.sh: unknown mode $mode" >&2; exit 2 ;;
esac
add_node "$dest"
