#!/usr/bin/env bash
# Builds the Debian packages synwarden, synwarden-agent and synwarden-dkms from this tree with
# dpkg-buildpackage (binary only, unsigned), then checks them with lintian: an error fails the
# build, the remaining tags are listed and explained in packaging/README.md.
#
# Usage: packaging/build-debs.sh [OUT_DIR]          (default OUT_DIR: <tree>/build/debs)
# Environment:
#   DEB_BUILD_OPTIONS  passed on. Default "nocheck": the package build then compiles the product
#                      only (no test binaries), which keeps it to a few minutes on 2 cores; the
#                      unit tier runs in scripts/test.sh anyway. DEB_BUILD_OPTIONS= (empty) builds
#                      and runs the unit tier inside the package build too (never the root tiers).
#   SYNWARDEN_DEB_JOBS parallel jobs (default: nproc, at most 2 on CI's machine kind).
# Writes OUT_DIR/*.deb, OUT_DIR/lintian.txt and OUT_DIR/build.log.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$root/build/debs}")
jobs=${SYNWARDEN_DEB_JOBS:-$(nproc)}
export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS-nocheck}

for tool in dpkg-buildpackage lintian dh_dkms; do
  command -v "$tool" >/dev/null || {
    echo "build-debs: $tool not found: run scripts/install-deps.sh (debhelper, dh-dkms, lintian)" >&2
    exit 1; }
done

work=$(mktemp -d /tmp/synwarden-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT

# A clean copy of the source (no VCS data, no build trees: they would end up in nothing but
# would slow the copy and confuse CMake), with packaging/debian as the debian/ directory.
version=$(dpkg-parsechangelog -l "$root/packaging/debian/changelog" -S Version)
src="$work/synwarden-${version%%-*}"
mkdir -p "$src"
tar -C "$root" --exclude=./.git --exclude='./build' --exclude='./build-*' \
    --exclude='./obj-*' -cf - . | tar -C "$src" -xf -
rm -rf "$src/debian"
cp -r "$root/packaging/debian" "$src/debian"

mkdir -p "$out"
start=$(date +%s)
if ! (cd "$src" && dpkg-buildpackage -us -uc -b -j"$jobs") >"$out/build.log" 2>&1; then
  tail -60 "$out/build.log"
  echo "build-debs: dpkg-buildpackage failed; full log: $out/build.log" >&2
  exit 1
fi
rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
cp "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$out"/
built=$(cd "$out" && printf '%s ' ./*.deb)
echo "build-debs: built in $(( $(date +%s) - start )) s: ${built//.\//}"

# lintian: errors fail; warnings and info tags are printed for packaging/README.md to explain.
set +e
lintian --info --display-info --no-tag-display-limit "$out"/*.changes >"$out/lintian.txt" 2>&1
lintian_rc=$?
set -e
cat "$out/lintian.txt"
if grep -q '^E:' "$out/lintian.txt"; then
  echo "build-debs: lintian reported errors (see $out/lintian.txt)" >&2
  exit 1
fi
if [ "$lintian_rc" -gt 1 ]; then
  echo "build-debs: lintian failed to run (exit $lintian_rc)" >&2
  exit 1
fi
echo "build-debs: lintian: $(grep -c '^E:' "$out/lintian.txt") errors, $(grep -c '^W:' "$out/lintian.txt") warnings, $(grep -c '^I:' "$out/lintian.txt") info"
