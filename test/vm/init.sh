#!/bin/busybox sh
# /init of the test guests' initramfs (busybox): mounts the shares, runs the scenarios under the
# host's bash, reports pass/fail through isa-debug-exit (qemu exits 1 for 0 written, 3 for 1).
export PATH=/bbin
mkdir -p /proc /sys /dev /tmp /run /mnt
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
ver=$(uname -r)
echo "DTVM boot $ver $(cut -d' ' -f1 /proc/uptime)"
# the dependencies between these moved across stable updates (virtio needs virtio_ring in some):
# a module whose dependency is not in yet is tried again in the next pass
left=$(cat /modules/order)
for pass in 1 2 3; do
  again=""
  for m in $left; do insmod "/modules/$m.ko" 2>/dev/null || again="$again $m"; done
  left=$again
  [ -z "$left" ] && break
done
[ -z "$left" ] || echo "DTVM note: insmod failed for$left"
opts=trans=virtio,version=9p2000.L,cache=loose,msize=262144,ro
# some stable kernels refuse cache=loose (9p's cache modes were reworked): mount uncached there
mount9p() { mount -t 9p -o "$opts" "$1" "$2" 2>/dev/null || mount -t 9p -o "trans=virtio,version=9p2000.L,msize=262144,ro" "$1" "$2"; }
mount9p hostusr /usr || echo "DTVM fatal: cannot mount the host's /usr over 9p"
mount9p dt /dt || echo "DTVM fatal: cannot mount the project over 9p"
mount9p kroot /kroot || echo "DTVM fatal: cannot mount the kernel package over 9p"
ln -s /kroot/lib/modules /lib/modules
status=1
if [ -x /usr/bin/bash ] && [ -f /dt/test/vm/guest.sh ]; then
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/bbin /usr/bin/bash /dt/test/vm/guest.sh && status=0
fi
echo "DTVM done status=$status $(cut -d' ' -f1 /proc/uptime)"
sync
printf "\\$status" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
poweroff -f
