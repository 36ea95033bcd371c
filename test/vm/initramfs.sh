#!/usr/bin/env bash
# initramfs.sh <kernel dir> <out.cpio.gz>: a busybox initramfs that can mount 9p shares for the
# kernel unpacked in <kernel dir> (its virtio and 9p modules, decompressed for busybox insmod).
set -euo pipefail
kdir=$1 out=$2
ver=$(ls "$kdir/lib/modules")
mods="$kdir/lib/modules/$ver"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bbin,modules,dt,kroot,usr,etc,lib,var,root}
cp /bin/busybox "$root/bbin/busybox"
for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -sf busybox "$root/bbin/$applet"; done
mkdir -p "$root/bin" && ln -s ../bbin/busybox "$root/bin/busybox"
cp "$(dirname "$0")/init.sh" "$root/init" && chmod +x "$root/init"
# merged /usr: the host's /usr arrives over 9p; the loader and libraries are found through these
ln -s usr/lib64 "$root/lib64"
ln -s ../usr/lib/x86_64-linux-gnu "$root/lib/x86_64-linux-gnu"
ln -s ../run "$root/var/run"
# iptables is a link through /etc/alternatives; name lookups read these
cp -a /etc/alternatives "$root/etc/"
for f in passwd group protocols services nsswitch.conf ld.so.cache; do [ -e "/etc/$f" ] && cp -L "/etc/$f" "$root/etc/"; done
# the 9p chain, in load order, whichever of them this kernel builds as modules
order=()
for m in virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci netfs fscache 9pnet 9pnet_virtio 9p; do
  f=$(find "$mods/kernel" -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" | head -1)
  [ -n "$f" ] || continue
  case "$f" in
    *.xz) xz -dc "$f" >"$root/modules/$m.ko" ;;
    *.zst) zstd -dc "$f" >"$root/modules/$m.ko" ;;
    *) cp "$f" "$root/modules/$m.ko" ;;
  esac
  order+=("$m")
done
echo "${order[*]}" >"$root/modules/order"
(cd "$root" && find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1 >"$out")
