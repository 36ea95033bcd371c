#!/usr/bin/env bash
# npm run test:vm [series…]: boots Debian's own kernels (default 5.10 6.1 6.12) under qemu, one
# guest at a time, and runs test/vm/guest.sh in each against the built tree (shared read-only over
# 9p with the host's /usr). Prints a kernel × scenario table; exits non-zero when a scenario
# failed, a guest did not finish, or a kernel could not be fetched.
#
# DROPTRACE_VM_DIR: where kernels and initramfs images are cached (default .vm in the checkout).
# DROPTRACE_VM_TIMEOUT: seconds one guest may take (default 900).
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
series=("$@")
[ ${#series[@]} -gt 0 ] || series=(5.10 6.1 6.12)
work=${DROPTRACE_VM_DIR:-$root/.vm}
timeout_s=${DROPTRACE_VM_TIMEOUT:-900}
mkdir -p "$work"

fail() { echo "test:vm: $*" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 is missing (apt-get install qemu-system-x86; scripts/setup.sh installs it)"
[ -f dist/cli/main.js ] && [ -f dist/bin/droptrace.mjs ] && [ -f native/build/Release/droptrace.node ] || fail "build first: npm run build"
[ "$(id -u)" = 0 ] || fail "run as root (the guests' 9p shares read the host's /usr as is)"

status=0
declare -A cell times
scenarios=()
for s in "${series[@]}"; do
  kdir="$work/$s"
  echo "== kernel $s"
  t0=$(date +%s)
  if ! bash test/vm/fetch-kernel.sh "$s" "$work"; then
    cell[$s,fetch]="FAIL"
    status=1
    continue
  fi
  ver=$(ls "$kdir/lib/modules")
  [ -f "$kdir/lib/modules/$ver/modules.dep" ] || busybox depmod -b "$kdir" "$ver" || fail "depmod for $ver failed"
  initrd="$kdir/initramfs.cpio.gz"
  if [ ! -f "$initrd" ] || [ test/vm/init.sh -nt "$initrd" ] || [ test/vm/initramfs.sh -nt "$initrd" ]; then
    bash test/vm/initramfs.sh "$kdir" "$initrd" || fail "initramfs for $s failed"
  fi
  log="$work/$s.console.log"
  share() { echo "-virtfs local,path=$1,mount_tag=$2,security_model=none,readonly=on"; }
  # shellcheck disable=SC2046
  timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 \
    -accel tcg,thread=multi -cpu max -smp 2 -m 768 -nodefaults -no-reboot \
    -display none -serial stdio -monitor none \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
    -kernel "$kdir/boot/vmlinuz-$ver" -initrd "$initrd" \
    -append "console=ttyS0 panic=-1 quiet loglevel=3" \
    $(share /usr hostusr) $(share "$root" dt) $(share "$kdir" kroot) \
    </dev/null >"$log" 2>&1
  qemu_status=$?
  t1=$(date +%s)
  grep -E '^DTVM' "$log" | sed 's/\r$//'
  # isa-debug-exit: the guest writes 0 (pass) or 1 (fail): qemu exits 1 or 3
  case $qemu_status in
    1) ;;
    3) status=1 ;;
    124 | 137) echo "test:vm: $s: the guest did not finish within ${timeout_s}s (last lines below)"; tail -20 "$log"; status=1 ;;
    *) echo "test:vm: $s: qemu exited $qemu_status (last lines below)"; tail -20 "$log"; status=1 ;;
  esac
  if ! grep -q '^DTVM-RESULT' "$log"; then
    cell[$s,guest]="FAIL"
    status=1
  fi
  while IFS= read -r line; do
    json=${line#DTVM-RESULT }
    name=$(node -e 'const r = JSON.parse(process.argv[1]); process.stdout.write(r.scenario)' "$json")
    ok=$(node -e 'const r = JSON.parse(process.argv[1]); process.stdout.write(r.ok ? "ok" : "FAIL")' "$json")
    cell[$s,$name]=$ok
    [[ " ${scenarios[*]} " == *" $name "* ]] || scenarios+=("$name")
    [ "$ok" = ok ] || status=1
  done < <(grep -a '^DTVM-RESULT' "$log" | sed 's/\r$//')
  boot=$(grep -a '^DTVM boot' "$log" | head -1 | awk '{print $4}')
  tline=$(grep -a '^DTVM-TIMES' "$log" | sed 's/\r$//' | head -1)
  times[$s]="guest $((t1 - t0))s, boot ${boot:-?}s, ${tline#DTVM-TIMES }"
done

echo
printf '%-8s' kernel
for sc in "${scenarios[@]}"; do printf ' %-13s' "$sc"; done
echo
for s in "${series[@]}"; do
  printf '%-8s' "$s"
  if [ -n "${cell[$s,fetch]:-}" ]; then echo " could not fetch Debian's $s kernel"; continue; fi
  if [ -n "${cell[$s,guest]:-}" ]; then echo " the guest reported nothing (see $work/$s.console.log)"; continue; fi
  for sc in "${scenarios[@]}"; do printf ' %-13s' "${cell[$s,$sc]:--}"; done
  echo
done
echo
for s in "${series[@]}"; do [ -n "${times[$s]:-}" ] && echo "$s: ${times[$s]}"; done
exit $status
