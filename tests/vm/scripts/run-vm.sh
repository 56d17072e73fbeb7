#!/usr/bin/env bash
# Boots the fetched Debian kernel with the initramfs under qemu (TCG: nested KVM is not
# reliable on these machines) and collects the guest's console and oracle records.
# Writes <out>/console.log and <out>/oracle.rec. Fails if qemu is missing, the guest does not
# reach SWVM-END within the time limit, or the records do not decode.
# Usage: run-vm.sh <kernel cache> <initramfs> <out dir> [timeout seconds]
set -euo pipefail
cache=${1:?kernel cache}; initrd=${2:?initramfs}; out=${3:?out dir}; limit=${4:-600}
# shellcheck disable=SC1091
source "$cache/kernel.env"
qemu=$(command -v qemu-system-x86_64 || true)
[[ -n "$qemu" ]] || { echo "run-vm: FAILED: qemu-system-x86_64 missing (package qemu-system-x86)" >&2; exit 1; }
mkdir -p "$out"
rm -f "$out/console.log" "$out/records.b64" "$out/oracle.rec"
start=$(date +%s%N)
set +e
timeout --kill-after=10 "$limit" "$qemu" -accel tcg,thread=multi -smp 2 -m 768 -display none \
  -no-reboot -monitor none -kernel "$SW_VMLINUZ" -initrd "$initrd" \
  -serial "file:$out/console.log" -serial "file:$out/records.b64" \
  -append "console=ttyS0 quiet panic=-1 oops=panic" </dev/null
rc=$?
set -e
end=$(date +%s%N)
ms=$(( (end - start) / 1000000 ))
printf 'run-vm: qemu exited with %d after %d.%03d s (kernel %s)\n' "$rc" $((ms / 1000)) $((ms % 1000)) "$SW_KVER"
tr -d '\r' <"$out/console.log" >"$out/console.txt" && mv "$out/console.txt" "$out/console.log"
grep -E '^(SWVM|  |oracle|accept|xdp)' "$out/console.log" || true
if ! grep -q '^SWVM-END' "$out/console.log"; then
  echo "run-vm: FAILED: the guest did not finish (no SWVM-END); last console lines:" >&2
  tail -n 40 "$out/console.log" >&2
  exit 1
fi
if ! tr -d '\r' <"$out/records.b64" | base64 -d | gunzip >"$out/oracle.rec"; then
  echo "run-vm: FAILED: the oracle records from ttyS1 do not decode" >&2
  exit 1
fi
echo "run-vm: $(wc -l <"$out/oracle.rec") oracle record lines in $out/oracle.rec"
