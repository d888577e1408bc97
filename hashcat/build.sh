#!/usr/bin/env bash
# Build mxkeys' hashcat modules (94100 key export, 94110 Security Phrase) for the hashcat that is
# installed, and put them beside a copy of that install in a local folder.
#
#   hashcat/build.sh [DIR]        DIR defaults to hashcat/build
#
# What it does:
#   1. reads the installed hashcat's version (Debian's package `hashcat`; install it with
#      `apt-get install hashcat` and an OpenCL runtime: pocl-opencl-icd for CPUs, or your GPU's);
#   2. fetches the upstream source of exactly that version through Debian's source package
#      (`apt-get source --download-only hashcat=VERSION`, with a private apt configuration under
#      DIR, so neither /etc/apt nor root is needed), for the module headers and the module
#      interface version;
#   3. compiles module_94100.c and module_94110.c against those headers (the modules use no
#      hashcat library code, so no hashcat build is needed; a few seconds);
#   4. makes DIR/hashcat: a copy of the hashcat binary, which then runs in hashcat's portable
#      mode from that folder, with links to the installed kernels, modules, rules and charsets,
#      plus ours;
#   5. prints the command to run.
#
# DEBIAN_MIRROR overrides the mirror (default http://deb.debian.org/debian).
# Nothing outside DIR is changed. Running it again reuses the downloaded source.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/build}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

die() { echo "build.sh: $*" >&2; exit 1; }

command -v hashcat >/dev/null || die "hashcat is not installed: apt-get install hashcat pocl-opencl-icd (or your GPU's OpenCL runtime)"
command -v gcc >/dev/null || die "gcc is needed to compile the modules: apt-get install gcc"

bin="$(readlink -f "$(command -v hashcat)")"
pkg_version="$(dpkg-query -W -f='${source:Version}' hashcat 2>/dev/null || true)"
[ -n "$pkg_version" ] || die "hashcat at $bin does not come from a Debian package; build.sh needs Debian's source package for its headers"
upstream="${pkg_version%%+*}"            # 6.2.6+ds1-1 -> 6.2.6
upstream="${upstream%%-*}"
share=/usr/share/hashcat
[ -d "$share/OpenCL" ] || die "$share/OpenCL is missing: is the hashcat package complete?"

src="$out/src/hashcat-$upstream"
if [ ! -f "$src/include/types.h" ]; then
  echo "fetching hashcat $pkg_version source (Debian source package)..."
  apt_dir="$out/apt"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$out/src"
  codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"
  echo "deb-src ${DEBIAN_MIRROR:-http://deb.debian.org/debian} $codename main" > "$apt_dir/sources.list"
  apt_opts=(-q -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/nonexistent
            -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o APT::Sandbox::User="$(id -un)")
  apt-get "${apt_opts[@]}" update >"$apt_dir/update.log" 2>&1 || die "apt-get update for the source index failed: see $apt_dir/update.log"
  # Only the upstream tarball is needed; a missing Debian patch tarball is not an error here.
  (cd "$out/src" && apt-get "${apt_opts[@]}" source --download-only "hashcat=$pkg_version" >"$apt_dir/source.log" 2>&1) || true
  tarball="$(ls "$out/src"/hashcat_"$upstream"*.orig.tar.* 2>/dev/null | head -1)"
  [ -n "$tarball" ] || die "could not download hashcat $pkg_version's source: see $apt_dir/source.log"
  tar -xf "$tarball" -C "$out/src"
  [ -f "$src/include/types.h" ] || die "the source tarball has no $src/include/types.h"
fi

iface="$(sed -n 's/^MODULE_INTERFACE_VERSION *:= *//p' "$src/src/Makefile")"
[ -n "$iface" ] || die "no MODULE_INTERFACE_VERSION in $src/src/Makefile"

dest="$out/hashcat"
mkdir -p "$dest/modules" "$dest/OpenCL"

# The installed kernels and modules, linked; ours, copied (a new build replaces them).
for f in "$share"/OpenCL/*; do ln -sfn "$f" "$dest/OpenCL/$(basename "$f")"; done
for f in "$share"/modules/*.so; do ln -sfn "$(readlink -f "$f")" "$dest/modules/$(basename "$f")"; done
for f in charsets hashcat.hcstat2 layouts masks rules tunings; do
  [ -e "$share/$f" ] && ln -sfn "$share/$f" "$dest/$f"
done
cp -f "$bin" "$dest/hashcat"

for mode in 94100 94110; do
  # The flags are the ones hashcat's own Makefile gives modules on Linux (they shape the structs
  # a module shares with hashcat).
  gcc -std=gnu99 -O2 -Wall -Wextra -Wno-unused-parameter -Werror -pipe \
    -I"$src/include" -I"$src/OpenCL" -I"$src/deps/LZMA-SDK/C" -I"$here" \
    -DWITH_BRAIN -DWITH_CUBIN -DWITH_HWMON -DMODULE_INTERFACE_VERSION_CURRENT="$iface" \
    -shared -fPIC "$here/module_$mode.c" -o "$dest/modules/module_$mode.so"
  rm -f "$dest/OpenCL/m$mode-pure.cl"
  cp "$here/OpenCL/m$mode-pure.cl" "$dest/OpenCL/m$mode-pure.cl"
done
cp -f "$here/OpenCL/inc_mxkeys.cl" "$dest/OpenCL/inc_mxkeys.cl"
# Kernels compiled from an older copy of ours must not be reused.
rm -rf "$dest/kernels"

cat <<EOF
built modules 94100 (key export) and 94110 (Security Phrase) for hashcat $upstream (module interface $iface)
in $dest

  mxkeys passphrase hashline TARGET > target.hash
  $dest/hashcat -m 94100 -a 0 target.hash WORDLIST      # an export (-m 94110: a Security Phrase)
  mxkeys passphrase confirm TARGET --potfile $dest/hashcat.potfile

or all three at once: hashcat/crack.sh TARGET WORDLIST
EOF
