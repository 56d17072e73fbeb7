#!/usr/bin/env bash
# Packs the guest: static busybox, tests/vm/guest/init, tun.ko from the fetched kernel, the
# module, and the static test tools (into /opt/sw).
# Usage: build-initramfs.sh <kernel cache> <init script> <module .ko> <out .cpio.gz> TOOL...
set -euo pipefail
cache=${1:?kernel cache}; init=${2:?init}; ko=${3:?module}; out=${4:?output}
shift 4
# shellcheck disable=SC1091
source "$cache/kernel.env"
busybox=$(command -v busybox || true)
# ldd succeeds only on dynamic executables.
if [[ -z "$busybox" ]] || ldd "$busybox" >/dev/null 2>&1; then
  echo "build-initramfs: FAILED: a static busybox is needed (package busybox-static)" >&2
  exit 1
fi
command -v cpio >/dev/null || { echo "build-initramfs: FAILED: cpio missing (package cpio)" >&2; exit 1; }
command -v strip >/dev/null || { echo "build-initramfs: FAILED: strip missing (package binutils)" >&2; exit 1; }
root=$(mktemp -d "${out%/*}/initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules,opt/sw}
cp "$busybox" "$root/bin/busybox"
install -m 0755 "$init" "$root/init"
tun=$(find "$SW_MODDIR" -name 'tun.ko*' | head -n 1)
case "$tun" in
  *.ko) cp "$tun" "$root/lib/modules/tun.ko" ;;
  *.ko.xz) xz -dc "$tun" >"$root/lib/modules/tun.ko" ;;
  *) echo "build-initramfs: FAILED: tun.ko not found under $SW_MODDIR" >&2; exit 1 ;;
esac
cp "$ko" "$root/lib/modules/synwarden_secrets.ko"
for tool in "$@"; do
  if ldd "$tool" >/dev/null 2>&1; then
    echo "build-initramfs: FAILED: $tool is not statically linked" >&2
    exit 1
  fi
  install -m 0755 "$tool" "$root/opt/sw/"
  # Debug info is most of a static binary; the build tree keeps it. A smaller initramfs boots
  # faster under TCG.
  strip --strip-debug "$root/opt/sw/$(basename "$tool")"
done
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp"
mv "$out.tmp" "$out"
echo "build-initramfs: $out ($(du -h "$out" | cut -f1))"
