#!/usr/bin/env bash
# Builds (or takes from the cache) the debian tier's Debian 12 system image: a minbase root
# filesystem made by mmdebstrap from the machine's apt sources, with systemd as init, Debian's
# newest stock 6.1 kernel image and its headers (so DKMS can build modules for it inside the
# guest), dkms, and the run-time libraries and tools the synwarden packages and the demo use.
#
# The cache folder <cache root>/debian-image/<key>/ is keyed by what the image contains: the
# sha256 of this script, the guest unit files and the package list with the kernel's package
# name and Debian version. A folder is used only when complete (marker written last); filling
# one holds <cache root>/debian-image/.lock, so concurrent runs wait instead of racing.
# Writes <out env>: SWDEB_IMAGE (ext4 root disk, raw; never written: the VM boots an overlay),
# SWDEB_VMLINUZ, SWDEB_INITRD, SWDEB_KVER.
# Usage: build-image.sh <cache root> <out env>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache_root=${1:?usage: build-image.sh <cache root> <out env>}
out_env=${2:?usage: build-image.sh <cache root> <out env>}

PKGS=(systemd systemd-sysv udev dbus kmod iproute2 procps psmisc python3 curl nftables ethtool
      dkms libbpf1 libxdp1 libsodium23 libcpp-httplib0.11)

for tool in mmdebstrap mke2fs; do
  command -v "$tool" >/dev/null || {
    echo "build-image: FAILED: $tool missing: run scripts/install-deps.sh (mmdebstrap, e2fsprogs)" >&2
    exit 1; }
done
# The same kernel the vm tier takes: the newest linux-image-6.1.0-N-amd64 apt offers.
image=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' 2>/dev/null |
        awk '{print $1}' | sort -V | tail -n 1)
if [[ -z "$image" ]]; then
  echo "build-image: FAILED: apt offers no linux-image-6.1.0-*-amd64 package: this tier needs" \
       "Debian 12 (bookworm, bookworm-security) apt sources and a current apt-get update" >&2
  exit 1
fi
kver=${image#linux-image-}
kversion=$(apt-cache policy "$image" | awk '/Candidate:/ {print $2}')
sources=$(ls /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n 1 || true)
[[ -n "$sources" ]] || { echo "build-image: FAILED: no apt sources file on this machine" >&2; exit 1; }

key=$( { cat "$0" "$here"/guest/swdeb-payload.service "$here"/guest/swdeb.target;
         echo "${PKGS[*]} $image=$kversion linux-headers-$kver=$kversion"; } |
       sha256sum | cut -c1-16)
cache="$cache_root/debian-image/$key"
write_env() {
  cat >"$out_env" <<ENV
SWDEB_IMAGE=$cache/root.img
SWDEB_VMLINUZ=$cache/vmlinuz
SWDEB_INITRD=$cache/initrd.img
SWDEB_KVER=$kver
SWDEB_KVERSION=$kversion
ENV
}
if [[ -f "$cache/complete" ]]; then
  write_env
  echo "build-image: Debian 12 image $key (kernel $kver $kversion) from the cache $cache"
  exit 0
fi
mkdir -p "$cache_root/debian-image"
exec 9>"$cache_root/debian-image/.lock"
flock 9
if [[ -f "$cache/complete" ]]; then
  write_env
  echo "build-image: Debian 12 image $key from the cache (filled by another run meanwhile)"
  exit 0
fi
# Older images are superseded by this one: keep only the newest.
find "$cache_root/debian-image" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} +
rm -rf "$cache"
mkdir -p "$cache"
rootfs="$cache/rootfs"
start=$(date +%s)
include=$(IFS=,; echo "${PKGS[*]},$image=$kversion,linux-headers-$kver=$kversion")
# No documentation, man pages or translations in the image (nobody reads them in the guest).
if ! mmdebstrap --variant=minbase --mode=root --include="$include" \
     --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
     --dpkgopt='path-include=/usr/share/doc/*/copyright' \
     --dpkgopt='path-exclude=/usr/share/locale/*' \
     bookworm "$rootfs" "$sources" >"$cache/mmdebstrap.log" 2>&1; then
  tail -n 40 "$cache/mmdebstrap.log" >&2
  echo "build-image: FAILED: mmdebstrap (log: $cache/mmdebstrap.log)" >&2
  exit 1
fi
[[ -f "$rootfs/boot/vmlinuz-$kver" && -f "$rootfs/boot/initrd.img-$kver" ]] || {
  echo "build-image: FAILED: the image has no /boot/vmlinuz-$kver or initrd.img-$kver" >&2; exit 1; }
cp "$rootfs/boot/vmlinuz-$kver" "$cache/vmlinuz"
cp "$rootfs/boot/initrd.img-$kver" "$cache/initrd.img"

# Guest set-up: host name, root file system, the payload unit, nothing periodic that could
# start in the middle of a measurement.
echo swdeb >"$rootfs/etc/hostname"
echo "/dev/vda / ext4 rw,relatime 0 1" >"$rootfs/etc/fstab"
install -m 0644 "$here/guest/swdeb-payload.service" "$here/guest/swdeb.target" \
  "$rootfs/etc/systemd/system/"
mkdir -p "$rootfs/etc/systemd/system/swdeb.target.wants"
ln -sf ../swdeb-payload.service "$rootfs/etc/systemd/system/swdeb.target.wants/swdeb-payload.service"
for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
            dpkg-db-backup.timer systemd-tmpfiles-clean.timer; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
rm -f "$rootfs"/var/cache/apt/archives/*.deb

# A raw ext4 disk: the content plus 768 MiB for the packages, DKMS builds and the demo.
size_mib=$(( $(du -sm "$rootfs" | cut -f1) + 768 ))
mke2fs -q -t ext4 -L swdeb -d "$rootfs" "$cache/root.img" "${size_mib}M" ||
  { echo "build-image: FAILED: mke2fs -d of $rootfs" >&2; exit 1; }
rm -rf "$rootfs"
touch "$cache/complete"
write_env
echo "build-image: built Debian 12 image $key (kernel $kver $kversion, ${size_mib} MiB) in" \
     "$(( $(date +%s) - start )) s; cached in $cache"
