#!/usr/bin/env bash
# The `debian` test tier: the packaged product on a Debian 12 system under systemd, in qemu (TCG).
#
#   1. build-image.sh: the Debian 12 image (mmdebstrap, systemd, stock 6.1 kernel + headers,
#      dkms), cached under <cache>/debian-image/<key>/ between runs;
#   2. a payload disk: guest/checks.sh, guest/units_under_load.py, the three .debs built by the
#      package tier, and what the demo needs (scripts/demo.sh, kmod/, tests/integration/*.py, the
#      build's synwarden, synwarden-agent, synflood and integration BPF objects);
#   3. boots the image (root disk in snapshot mode: the cached image is never written) with
#      systemd as PID 1; swdeb-payload.service runs checks.sh and powers off;
#   4. prints the guest's SWDEB lines; passes only if the guest reached SWDEB-END with no FAIL.
# Ends with one line starting with "debian:". Needs root, qemu-system-x86, mmdebstrap, e2fsprogs
# and Debian 12 apt sources.
# Usage: run.sh <debs dir> <build dir> [work dir]
# Environment: SYNWARDEN_VM_CACHE (/var/cache/synwarden), SWDEB_TIMEOUT (qemu limit, 1800 s),
# SWDEB_SECTIONS (debugging only: run only these sections of guest/checks.sh; the tier fails
# then, since it did not check everything).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
debs=$(realpath "${1:?usage: run.sh <debs dir> <build dir> [work dir]}")
build=$(realpath "${2:?usage: run.sh <debs dir> <build dir> [work dir]}")
work=$(realpath -m "${3:-$build/debian-tier}")
cache=${SYNWARDEN_VM_CACHE:-/var/cache/synwarden}
limit=${SWDEB_TIMEOUT:-1800}
started=$(date +%s)

fail_now() { echo "debian: FAILED: $*"; exit 1; }
[ "$(id -u)" -eq 0 ] || fail_now "run.sh must run as root (mmdebstrap, mke2fs of a root tree)"
command -v qemu-system-x86_64 >/dev/null || fail_now "qemu-system-x86_64 missing (scripts/install-deps.sh)"
for p in synwarden synwarden-agent synwarden-dkms; do
  ls "$debs/${p}_"*.deb >/dev/null 2>&1 || fail_now "no ${p}_*.deb in $debs (packaging/build-debs.sh)"
done
demo_bins=(userspace/daemon/synwarden agent/synwarden-agent tools/synflood/synflood
           tests/integration/bpf/xdp_pass.bpf.o tests/integration/bpf/vlan_push.bpf.o
           tests/integration/bpf/vlan_pop.bpf.o)
for f in "${demo_bins[@]}"; do
  [ -e "$build/$f" ] || fail_now "$build/$f missing (scripts/build.sh builds it)"
done

rm -rf "$work"
mkdir -p "$work"
# -- 1. the image -------------------------------------------------------------------------------
t=$(date +%s)
bash "$here/build-image.sh" "$cache" "$work/image.env" || fail_now "no Debian 12 image (build-image.sh)"
image_s=$(( $(date +%s) - t ))
# shellcheck disable=SC1091
source "$work/image.env"

# -- 2. the payload disk ------------------------------------------------------------------------
pl="$work/payload"
mkdir -p "$pl/debs" "$pl/demo/scripts" "$pl/demo/kmod" "$pl/demo/tests/integration"
install -m 0755 "$here/guest/checks.sh" "$here/guest/units_under_load.py" "$pl/"
for p in synwarden synwarden-agent synwarden-dkms; do cp "$debs/${p}_"*.deb "$pl/debs/"; done
[ -n "${SWDEB_SECTIONS:-}" ] && echo "$SWDEB_SECTIONS" >"$pl/sections"
cp "$root/scripts/demo.sh" "$root/scripts/build.sh" "$pl/demo/scripts/"
cp "$root"/kmod/Kbuild "$root"/kmod/Makefile "$root"/kmod/*.c "$root"/kmod/*.h "$pl/demo/kmod/"
cp "$root"/tests/integration/*.py "$pl/demo/tests/integration/"
for f in "${demo_bins[@]}"; do
  mkdir -p "$pl/demo/build/$(dirname "$f")"
  cp "$build/$f" "$pl/demo/build/$f"
done
# Debug info is of no use in the guest and only slows the copy.
strip --strip-debug "$pl/demo/build/userspace/daemon/synwarden" "$pl/demo/build/agent/synwarden-agent" \
  "$pl/demo/build/tools/synflood/synflood"
mke2fs -q -t ext4 -L swdebpl -d "$pl" "$work/payload.img" "$(( $(du -sm "$pl" | cut -f1) + 32 ))M" ||
  fail_now "mke2fs -d of the payload"

# -- 3. boot ------------------------------------------------------------------------------------
t=$(date +%s)
set +e
timeout --kill-after=10 "$limit" qemu-system-x86_64 -accel tcg,thread=multi -smp 2 -m 2048 \
  -display none -no-reboot -monitor none -kernel "$SWDEB_VMLINUZ" -initrd "$SWDEB_INITRD" \
  -drive "file=$SWDEB_IMAGE,if=virtio,format=raw,snapshot=on" \
  -drive "file=$work/payload.img,if=virtio,format=raw,readonly=on" \
  -serial "file:$work/console.log" -serial "file:$work/checks.log" \
  -append "root=/dev/vda rw console=ttyS0 systemd.unit=swdeb.target panic=-1 oops=panic" </dev/null
qemu_rc=$?
set -e
vm_s=$(( $(date +%s) - t ))
tr -d '\r' <"$work/checks.log" >"$work/checks.txt"
grep -E '^SWDEB' "$work/checks.txt" || true

# -- 4. verdict ---------------------------------------------------------------------------------
passed=$(grep -c '^SWDEB PASS ' "$work/checks.txt" || true)
failed=$(grep -c '^SWDEB FAIL ' "$work/checks.txt" || true)
total_s=$(( $(date +%s) - started ))
times="image ${image_s} s, VM ${vm_s} s (qemu exit $qemu_rc), total ${total_s} s"
if ! grep -q '^SWDEB-END' "$work/checks.txt"; then
  echo "---- last console lines ($work/console.log)"
  tr -d '\r' <"$work/console.log" | tail -n 40
  echo "debian: FAILED: the guest did not finish its checks (no SWDEB-END; $passed passed," \
       "$failed failed so far; $times)"
  exit 1
fi
if [ -n "${SWDEB_SECTIONS:-}" ]; then
  echo "debian: FAILED: only sections '$SWDEB_SECTIONS' ran (SWDEB_SECTIONS): $passed passed," \
       "$failed failed ($times)"
  exit 1
fi
if [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
  echo "debian: FAILED: $failed check(s) failed, $passed passed in the Debian 12 VM ($times)"
  exit 1
fi
summary=$(sed -n 's/^SWDEB info demo summary line: //p' "$work/checks.txt" | tail -n 1)
install_s=$(sed -n 's/^SWDEB info install: .* took \([0-9]*\) s$/\1/p' "$work/checks.txt")
echo "debian: $passed checks passed in a Debian 12 VM (systemd PID 1, kernel $SWDEB_KVER):" \
     "demo in kmod mode [$summary], 3 .debs installed (DKMS build ${install_s:-?} s), both" \
     "units active and restarted under a flood with no stream broken, purged clean; $times"
