#!/usr/bin/env bash
# Builds kmod/ against the unpacked Debian headers (fetch-kernel.sh) with the kernel's own flags
# plus W=1 and -Werror, in a copy under <out> (Kbuild writes next to the sources).
# A warning, a vermagic that is not the fetched kernel's, or a missing .ko fails.
# Usage: build-kmod.sh <kernel cache> <kmod source dir> <out dir>
set -euo pipefail
cache=${1:?kernel cache}; src=${2:?kmod sources}; out=${3:?out dir}
# shellcheck disable=SC1091
source "$cache/kernel.env"
rm -rf "$out/src"
mkdir -p "$out/src"
cp "$src"/Kbuild "$src"/Makefile "$src"/*.c "$src"/*.h "$out/src/"
log="$out/build.log"
if ! make -C "$SW_KDIR" M="$out/src" W=1 KCFLAGS=-Werror modules >"$log" 2>&1; then
  cat "$log"
  echo "build-kmod: FAILED: the module does not build against $SW_KVER ($SW_KVERSION)" >&2
  exit 1
fi
if grep -i 'warning:' "$log"; then
  echo "build-kmod: FAILED: the module builds with warnings against $SW_KVER" >&2
  exit 1
fi
ko="$out/src/synwarden_secrets.ko"
vermagic=$(modinfo -F vermagic "$ko" 2>/dev/null || true)
if [[ "$vermagic" != "$SW_KVER "* ]]; then
  echo "build-kmod: FAILED: vermagic '$vermagic' is not for $SW_KVER" >&2
  exit 1
fi
cp "$ko" "$out/synwarden_secrets.ko"
echo "build-kmod: synwarden_secrets.ko built warning-free (W=1 -Werror) for $SW_KVER ($SW_KVERSION)"
