#!/usr/bin/env bash
# Builds libbpf, libelf (elfutils) and zlib as position-independent static libraries, so that the
# prebuilt addon can link them in and need nothing from the system but glibc. Debian's own
# libbpf.a and libelf.a are not built with -fPIC and cannot go into a shared object.
#
# Sources are Debian's source packages (with Debian's patches), fetched through a private apt
# configuration whose deb-src entries are made from this machine's own Debian sources: nothing is
# added to /etc/apt. The versions are pinned to bookworm's; the result is cached under
# $DROPTRACE_DEPS_DIR (default native/deps), keyed by this script's contents, and reused.
#
# Prints the install prefix (include/, lib/) on stdout; everything else goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

sources=(libbpf=1.1.2-0+deb12u1 elfutils=0.188-2.1 zlib=1:1.2.13.dfsg-1)
jobs=${DROPTRACE_JOBS:-2}
cache=$(realpath -m "${DROPTRACE_DEPS_DIR:-native/deps}")
key=$(sha256sum "$0" | cut -c1-12)
prefix=$cache/prefix-$key
mkdir -p "$cache"
# one build at a time per cache (a checkout and a clone of it packing at once share it)
exec 9>"$cache/.lock-$key"
flock 9
if [ -f "$prefix/.complete" ]; then
  echo "$prefix"
  exit 0
fi

log() { echo "build-static-deps: $*" >&2; }
work=$cache/work-$key
rm -rf "$work" "$prefix"
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/apt/state" "$work/apt/parts" "$work/src" "$prefix/lib" "$prefix/include"

# deb-src twins of this machine's Debian entries (deb822 .sources files and one-line lists)
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && grep -q debian-archive-keyring "$f" && sed 's/^Types: deb$/Types: deb-src/' "$f" >"$work/apt/parts/$(basename "$f")"
done
if [ -f /etc/apt/sources.list ]; then
  sed -n 's/^deb \(.*debian.*\)$/deb-src \1/p' /etc/apt/sources.list >"$work/apt/parts/sources-list.list"
fi
cat >"$work/apt/apt.conf" <<EOF
Dir::State "$work/apt/state";
Dir::State::Lists "$work/apt/lists";
Dir::State::status "/dev/null";
Dir::Cache "$work/apt/cache";
Dir::Etc::SourceList "/dev/null";
Dir::Etc::SourceParts "$work/apt/parts";
APT::Sandbox::User "root";
EOF
log "fetching ${sources[*]}"
apt-get -c "$work/apt/apt.conf" -qq update >&2
(cd "$work/src" && apt-get -c "$work/apt/apt.conf" -qq source --download-only "${sources[@]}" >&2)

# unpack each upstream tarball and apply Debian's patch series
unpack() { # <source name> <upstream version> <debian version>
  local dir=$work/$1
  mkdir -p "$dir"
  tar -C "$dir" --strip-components=1 -xf "$(ls "$work/src/$1_$2".orig.tar.* | grep -v '\.asc$')"
  tar -C "$dir" -xf "$work/src/$1_$3.debian.tar.xz"
  if [ -f "$dir/debian/patches/series" ]; then
    grep -v '^\s*#' "$dir/debian/patches/series" | while read -r p _; do
      [ -z "$p" ] || patch -s -d "$dir" -p1 <"$dir/debian/patches/$p"
    done
  fi
}
unpack libbpf 1.1.2 1.1.2-0+deb12u1
unpack elfutils 0.188 0.188-2.1
unpack zlib 1.2.13.dfsg 1.2.13.dfsg-1

cflags="-O2 -g0 -fPIC -fvisibility=hidden"

log "zlib"
(cd "$work/zlib" && CFLAGS="$cflags" ./configure --static --prefix="$prefix" >&2 && make -s -j"$jobs" libz.a >&2 && make -s install >&2)

log "libelf"
# only lib/ (elfutils' internal helpers) and libelf/ are built: no debuginfod, no compressors but zlib
(cd "$work/elfutils" &&
  ./configure --quiet --prefix="$prefix" --disable-debuginfod --disable-libdebuginfod --disable-nls \
    --without-bzlib --without-lzma --without-zstd \
    CFLAGS="$cflags" CPPFLAGS="-I$prefix/include" LDFLAGS="-L$prefix/lib" >&2 &&
  make -s -j"$jobs" -C lib >&2 && make -s -j"$jobs" -C libelf libelf.a >&2 &&
  install -m644 libelf/libelf.a "$prefix/lib/" &&
  install -m644 libelf/libelf.h libelf/gelf.h libelf/nlist.h "$prefix/include/")

log "libbpf"
mkdir -p "$work/libbpf/obj"
make -s -j"$jobs" -C "$work/libbpf/src" BUILD_STATIC_ONLY=1 OBJDIR="$work/libbpf/obj" \
  DESTDIR="$prefix" PREFIX= LIBDIR=/lib EXTRA_CFLAGS="$cflags -I$prefix/include" install >&2

rm -rf "$work"
touch "$prefix/.complete"
log "done: $prefix"
echo "$prefix"
