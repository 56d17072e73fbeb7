#!/usr/bin/env bash
# vm_boot: packs the initramfs and boots it (build-initramfs.sh + run-vm.sh).
# Usage: boot.sh <kernel cache> <guest init> <module .ko> <run dir> TOOL...
set -euo pipefail
cache=${1:?}; init=${2:?}; ko=${3:?}; run=${4:?}
shift 4
here=$(cd "$(dirname "$0")" && pwd)
tools=()
for t in "$@"; do [[ -n "$t" ]] && tools+=("$t"); done
mkdir -p "$run"
"$here/build-initramfs.sh" "$cache" "$init" "$ko" "$run/initramfs.cpio.gz" "${tools[@]}"
"$here/run-vm.sh" "$cache" "$run/initramfs.cpio.gz" "$run" "${SWVM_TIMEOUT:-600}"
