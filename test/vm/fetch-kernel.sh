#!/usr/bin/env bash
# fetch-kernel.sh <series> <dir>: Debian's generic amd64 kernel of a series (5.10, 6.1, 6.12),
# unpacked into <dir>/<series>/ (boot/vmlinuz-*, lib/modules/*), cached: a second call does nothing.
# Packages come through a private apt configuration under <dir>/apt (its own sources, state and
# cache), so nothing is added to the host's /etc/apt.
set -euo pipefail
series=$1
mkdir -p "$2" && dir=$(cd "$2" && pwd)
out="$dir/$series"
[ -f "$out/.complete" ] && exit 0
apt_dir="$dir/apt"
mkdir -p "$apt_dir/state/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/parts" "$apt_dir/prefs"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
cat >"$apt_dir/sources.list" <<SRC
deb [signed-by=$keyring] http://deb.debian.org/debian bookworm main
deb [signed-by=$keyring] http://deb.debian.org/debian-security bookworm-security main
deb [signed-by=$keyring] http://deb.debian.org/debian-security bullseye-security main
SRC
cat >"$apt_dir/apt.conf" <<CONF
Dir::Etc::SourceList "$apt_dir/sources.list";
Dir::Etc::SourceParts "$apt_dir/parts";
Dir::Etc::PreferencesParts "$apt_dir/prefs";
Dir::State "$apt_dir/state";
Dir::State::status "$apt_dir/state/status";
Dir::Cache "$apt_dir/cache";
APT::Architecture "amd64";
CONF
touch "$apt_dir/state/status"
fail() { echo "test:vm: cannot fetch Debian's $series kernel: $*" >&2; exit 2; }
# one update per hour at most: the lists are shared by the three series
if [ -z "$(find "$apt_dir/state/lists" -maxdepth 1 -name '*Packages*' -mmin -60 2>/dev/null | head -1)" ]; then
  apt-get -c "$apt_dir/apt.conf" -qq update >"$apt_dir/update.log" 2>&1 || fail "apt-get update failed: $(tail -3 "$apt_dir/update.log")"
fi
case "$series" in
  5.10) pattern='^linux-image-5\.10\.0-[0-9]+-amd64-unsigned$' ;;
  6.1) pattern='^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' ;;
  6.12) pattern='^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' ;;
  *) fail "unknown series (5.10, 6.1 or 6.12)" ;;
esac
# the newest ABI of the series that has a candidate version
pkg=""
for name in $(apt-cache -c "$apt_dir/apt.conf" pkgnames linux-image- | grep -E "$pattern" | sort -V -r); do
  policy=$(apt-cache -c "$apt_dir/apt.conf" policy "$name")
  if [[ $policy == *"Candidate: "[0-9]* ]]; then pkg=$name; break; fi
done
[ -n "$pkg" ] || fail "no package matches $pattern in bookworm, bookworm-security or bullseye-security"
tmp=$(mktemp -d "$dir/.fetch-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get -c "$apt_dir/apt.conf" -qq download "$pkg" >"$tmp/download.log" 2>&1) || fail "apt-get download $pkg failed: $(tail -3 "$tmp/download.log")"
rm -rf "$out" && mkdir -p "$out"
dpkg -x "$tmp"/*.deb "$out"
echo "$pkg" >"$out/.package"
touch "$out/.complete"
echo "test:vm: $series is $pkg"
