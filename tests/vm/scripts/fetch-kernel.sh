#!/usr/bin/env bash
# Fetches Debian 12's newest stock 6.1 kernel image and its build headers with apt and unpacks
# them (nothing is installed on the machine) into a cache shared by every build dir and run:
#   <cache root>/<image>_<Debian version>/root   (keyed by what it contains: package and version)
# then writes <env dir>/kernel.env for the other scripts:
#   SW_KVER (6.1.0-N-amd64), SW_KVERSION (Debian version), SW_VMLINUZ, SW_KDIR (for
#   `make -C $SW_KDIR M=...`), SW_MODDIR (/lib/modules/$SW_KVER of the image).
# A cached kernel is used only when its folder is complete (marker written last); filling one
# holds <cache root>/.lock, so concurrent runs wait for each other instead of racing.
# Usage: fetch-kernel.sh <env dir> <cache root>
set -euo pipefail

envdir=${1:?usage: fetch-kernel.sh <env dir> <cache root>}
cache_root=${2:?usage: fetch-kernel.sh <env dir> <cache root>}
mkdir -p "$envdir" "$cache_root"
envdir=$(cd "$envdir" && pwd)
cache_root=$(cd "$cache_root" && pwd)

newest_image() {
  apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' 2>/dev/null |
    awk '{print $1}' | sort -V | tail -n 1
}

image=$(newest_image)
if [[ -z "$image" && $(id -u) -eq 0 ]]; then
  echo "fetch-kernel: apt knows no linux-image-6.1.0-*-amd64; running apt-get update" >&2
  apt-get update -qq
  image=$(newest_image)
fi
if [[ -z "$image" ]]; then
  echo "fetch-kernel: FAILED: apt offers no linux-image-6.1.0-*-amd64 package." >&2
  echo "  This tier needs Debian 12 (bookworm) apt sources; run scripts/install-deps.sh (apt-get update) first." >&2
  exit 1
fi
kver=${image#linux-image-}
version=$(apt-cache policy "$image" | awk '/Candidate:/ {print $2}')
if [[ -z "$version" || "$version" == "(none)" ]]; then
  echo "fetch-kernel: FAILED: apt has no installable candidate for $image" >&2
  exit 1
fi

cache="$cache_root/${image}_${version//:/_}"
use_cached() {
  [[ -f "$cache/complete" ]] || return 1
  cp "$cache/kernel.env" "$envdir/kernel.env"
  echo "fetch-kernel: $image $version from the cache $cache"
}
use_cached && exit 0
exec 9>"$cache_root/.lock"
flock 9
use_cached && exit 0   # filled by another run while this one waited
rm -rf "$cache"
mkdir -p "$cache/debs"

common=linux-headers-${kver%-amd64}-common
# linux-kbuild-6.1 (>= version) comes from the same source package: take that exact version.
pkgs=("$image=$version" "linux-headers-$kver=$version" "$common=$version" "linux-kbuild-6.1=$version")
echo "fetch-kernel: downloading ${pkgs[*]}"
# apt's sandbox user cannot write into a root-owned build tree; the warning is harmless.
(cd "$cache/debs" && apt-get download -q "${pkgs[@]}" 2>&1 | grep -v 'unsandboxed' || true)
for p in "$image" "linux-headers-$kver" "$common" linux-kbuild-6.1; do
  if ! ls "$cache/debs/${p}_"*.deb >/dev/null 2>&1; then
    echo "fetch-kernel: FAILED: apt-get download did not deliver $p $version" >&2
    exit 1
  fi
done

root="$cache/root"
rm -rf "$root"
mkdir -p "$root"
for deb in "$cache"/debs/*.deb; do
  case "$(basename "$deb")" in
    linux-image-*)
      # Of the image only the kernel and the one module the guest loads (tun): the rest is
      # ~350 MB of modules nobody reads.
      dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$root" --wildcards \
        './boot/vmlinuz-*' './lib/modules/*/kernel/drivers/net/tun.ko*' ;;
    *) dpkg-deb -x "$deb" "$root" ;;
  esac
done
[[ -f "$root/boot/vmlinuz-$kver" ]] || {
  echo "fetch-kernel: FAILED: $image contains no /boot/vmlinuz-$kver" >&2
  exit 1
}

kdir="$root/usr/src/linux-headers-$kver"
# Debian's per-flavour header Makefile includes the common tree by absolute path; point it at
# the unpacked copy. The scripts/ and tools/ symlinks are relative and resolve inside $root.
sed -i "s|^include /usr/src/$common/Makefile|include $root/usr/src/$common/Makefile|" "$kdir/Makefile"
grep -q "^include $root/" "$kdir/Makefile" || {
  echo "fetch-kernel: FAILED: unexpected layout of $kdir/Makefile" >&2
  exit 1
}

cat >"$cache/kernel.env" <<ENV
SW_KVER=$kver
SW_KVERSION=$version
SW_VMLINUZ=$root/boot/vmlinuz-$kver
SW_KDIR=$kdir
SW_MODDIR=$root/lib/modules/$kver
ENV
rm -rf "$cache/debs"   # unpacked: the archives are not read again
touch "$cache/complete"
cp "$cache/kernel.env" "$envdir/kernel.env"
echo "fetch-kernel: unpacked $image $version into $root (cached for later runs)"
