#!/usr/bin/env bash
# Installs everything droptrace needs on a bare Debian 12 machine with Node 20, as root:
# Debian packages, npm packages, and the build (BPF object, native addon, TypeScript).
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "setup: run as root (apt-get, and the build reads /sys/kernel/btf)" >&2; exit 1; }
node -e 'const [major] = process.versions.node.split("."); if (+major < 20) { console.error(`setup: Node ${process.versions.node}: droptrace needs Node 20 or newer`); process.exit(1) }'

packages=(
  # build: BPF (CO-RE) and the addon
  clang-16 bpftool libbpf-dev libelf-dev zlib1g-dev pkg-config cmake make g++ python3
  # the packaged addon: PIC static libbpf/libelf/zlib from Debian's source packages
  patch bzip2 xz-utils
  # no-compiler install test and the image's stand-in bases: a minimal Debian root
  debootstrap
  # the network tools the tests and the evidence readers run
  iproute2 iptables nftables util-linux procps
  # e2e containers: a real Docker engine, and busybox for an image made without a registry
  docker.io busybox-static
  # e2e pods without a kubelet: containerd's CRI plugin, runc, the CNI bridge plugins; a real Prometheus
  containerd runc containernetworking-plugins prometheus
  # benchmark baselines and format check
  bpftrace clang-format-16
  # the VM matrix (test/vm): Debian's own kernels booted under qemu, fetched with apt-get download
  qemu-system-x86 xz-utils
)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# `npm install`, not `npm ci`: npm 11 here writes lock files without the optional per-platform
# packages of @biomejs/biome (omit-lockfile-registry-resolved), which `npm ci` then refuses
npm install --no-audit --no-fund
npm run build
