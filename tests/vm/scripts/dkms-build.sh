#!/usr/bin/env bash
# Builds the module the way the synwarden-dkms package will: kmod/ sources plus
# packaging/dkms/dkms.conf laid out as /usr/src/<name>-<version>, built by dkms for the fetched
# Debian kernel. Every dkms tree is private to <out>; nothing is installed on the machine.
# Usage: dkms-build.sh <kernel cache> <kmod dir> <dkms.conf> <out dir>
set -euo pipefail
cache=${1:?kernel cache}; kmod=${2:?kmod dir}; conf=${3:?dkms.conf}; out=${4:?out dir}
# shellcheck disable=SC1091
source "$cache/kernel.env"
command -v dkms >/dev/null || { echo "dkms-build: FAILED: dkms missing (package dkms)" >&2; exit 1; }
version=0.0.0-vmtest
rm -rf "$out"
src="$out/src/synwarden-secrets-$version"
mkdir -p "$src" "$out/tree" "$out/install"
cp "$kmod"/Kbuild "$kmod"/Makefile "$kmod"/*.c "$kmod"/*.h "$src/"
sed "s/#MODULE_VERSION#/$version/" "$conf" >"$src/dkms.conf"
if ! dkms build --dkmstree "$out/tree" --sourcetree "$out/src" --installtree "$out/install" \
    -m synwarden-secrets -v "$version" -k "$SW_KVER" --kernelsourcedir "$SW_KDIR" \
    >"$out/dkms.log" 2>&1; then
  cat "$out/dkms.log"
  find "$out/tree" -name make.log -exec cat {} +
  echo "dkms-build: FAILED: dkms could not build synwarden-secrets for $SW_KVER" >&2
  exit 1
fi
ko=$(find "$out/tree" -name synwarden_secrets.ko | head -n 1)
[[ -n "$ko" ]] || { echo "dkms-build: FAILED: dkms reported success but built no .ko" >&2; exit 1; }
if grep -i 'warning:' "$(find "$out/tree" -name make.log | head -n 1)"; then
  echo "dkms-build: FAILED: warnings in the dkms build" >&2
  exit 1
fi
echo "dkms-build: dkms built $ko for $SW_KVER"
