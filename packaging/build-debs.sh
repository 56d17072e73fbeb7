#!/usr/bin/env bash
# Builds the Debian packages synwarden, synwarden-agent and synwarden-dkms from this tree with
# dpkg-buildpackage, then checks them with lintian (errors fail; warnings are explained in
# packaging/README.md). Output: OUT_DIR (default ./build/debs).
# Usage: packaging/build-debs.sh [OUT_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$root/build/debs}")
work=$(mktemp -d /tmp/synwarden-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The source as git sees it (tracked + untracked, minus ignored build trees), plus debian/.
src="$work/synwarden-0.1.0"
mkdir -p "$src"
(cd "$root" && git ls-files -z --cached --others --exclude-standard) |
  (cd "$root" && xargs -0 cp --parents -t "$src" 2>/dev/null || true)
cp -r "$root/packaging/debian" "$src/debian"

(cd "$src" && dpkg-buildpackage -us -uc -b -j"$(nproc)" >"$work/build.log" 2>&1) || {
  tail -60 "$work/build.log"; echo "build-debs: dpkg-buildpackage failed" >&2; exit 1; }

mkdir -p "$out"
rm -f "$out"/*.deb
cp "$work"/*.deb "$out"/
echo "build-debs: built $(ls "$out"/*.deb | xargs -n1 basename | tr '\n' ' ')"

# lintian: errors are failures; the remaining tags are listed for packaging/README.md.
set +e
lintian --no-tag-display-limit "$work"/*.changes >"$out/lintian.txt" 2>&1
set -e
cat "$out/lintian.txt"
if grep -q '^E:' "$out/lintian.txt"; then
  echo "build-debs: lintian reported errors" >&2
  exit 1
fi
