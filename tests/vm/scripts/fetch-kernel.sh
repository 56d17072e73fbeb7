#!/usr/bin/env bash
# Fetches Debian 12's newest stock 6.1 kernel image and its build headers with apt, unpacks them
# under a cache folder (nothing is installed on the machine), and writes <cache>/kernel.env:
#   SW_KVER (6.1.0-N-amd64), SW_KVERSION (Debian version), SW_VMLINUZ, SW_KDIR (for
#   `make -C $SW_KDIR M=...`), SW_MODDIR (/lib/modules/$SW_KVER of the image).
# Downloads are kept in <cache>/debs and reused while apt offers the same version.
# Usage: fetch-kernel.sh <cache dir>
set -euo pipefail

cache=${1:?usage: fetch-kernel.sh <cache dir>}
mkdir -p "$cache/debs"
cache=$(cd "$cache" && pwd)

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

if [[ -f "$cache/kernel.env" ]] && grep -qx "SW_KVERSION=$version" "$cache/kernel.env" &&
   grep -qx "SW_KVER=$kver" "$cache/kernel.env"; then
  echo "fetch-kernel: $image $version already unpacked in $cache"
  exit 0
fi

common=linux-headers-${kver%-amd64}-common
# linux-kbuild-6.1 (>= version) comes from the same source package: take that exact version.
pkgs=("$image=$version" "linux-headers-$kver=$version" "$common=$version" "linux-kbuild-6.1=$version")
echo "fetch-kernel: downloading ${pkgs[*]}"
rm -f "$cache"/debs/*.deb
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
echo "fetch-kernel: unpacked $image $version into $root"
