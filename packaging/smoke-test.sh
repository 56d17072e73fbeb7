#!/usr/bin/env bash
# The `package` test tier: builds the three Debian packages (packaging/build-debs.sh, lintian
# errors fail), installs them on this machine with apt-get, checks what they installed (files,
# modes, conffiles, generated keys, units neither enabled nor started, no users, DKMS
# registration), runs the INSTALLED binaries with exactly their units' capabilities through one
# real TCP connection in network namespaces (packaging/smoke_netns.py), then purges the packages
# and checks that nothing is left. Ends with one line starting with "package:"; exits non-zero on
# any failure. The packages are purged on every exit path.
#
# Needs root, and the synwarden packages must not be installed already (it purges them at the end).
# Environment: SYNWARDEN_DEBS_DIR=DIR  use the .debs (and lintian.txt) that packaging/build-debs.sh
#              just wrote to DIR instead of building them here. scripts/test.sh does so: it builds
#              the packages while other tiers run, then runs this script on them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
started=$(date +%s)
PKGS=(synwarden synwarden-agent synwarden-dkms)

if [ "$(id -u)" -ne 0 ]; then
  echo "package: FAILED: smoke-test.sh must run as root (apt-get install, BPF, namespaces)" >&2
  exit 1
fi
for p in "${PKGS[@]}"; do
  if dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qv '^not-installed$'; then
    echo "package: FAILED: $p is already installed (or not purged); the smoke test installs and" \
         "purges it itself: run 'apt-get purge -y ${PKGS[*]}' first" >&2
    exit 1
  fi
done

work=$(mktemp -d /tmp/synwarden-smoke.XXXXXX)
passed=0
failed=0
installed=0
cleanup() {
  local rc=$?
  if [ "$installed" -eq 1 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${PKGS[@]}" >/dev/null 2>&1 || true
  fi
  if [ "$rc" -eq 0 ]; then rm -rf "$work"; else echo "smoke-test: logs kept in $work" >&2; fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT

check() {  # check "what" command...  (PASS/FAIL line; the run fails at the end if any failed)
  local what=$1; shift
  if "$@" >/dev/null 2>"$work/check.err"; then
    echo "PASS: $what"; passed=$((passed + 1))
  else
    echo "FAIL: $what -- $(tr '\n' ' ' <"$work/check.err" | cut -c1-400)"; failed=$((failed + 1))
  fi
}
fail_now() { echo "package: FAILED: $*" >&2; exit 1; }
mode_is() { [ "$(stat -c '%a %U:%G' "$1")" = "$2" ] || { stat -c '%n is %a %U:%G' "$1" >&2; false; }; }
absent() { if [ -e "$1" ]; then echo "$1 exists" >&2; false; fi; }
has_line() { grep -qx -- "$2" <<<"$1" || { echo "missing: $2" >&2; false; }; }

# -- 1. build ----------------------------------------------------------------------------------
if [ -n "${SYNWARDEN_DEBS_DIR:-}" ]; then
  debs=$(realpath "$SYNWARDEN_DEBS_DIR")
  echo "smoke-test: using the packages in $debs (not rebuilt)"
else
  debs="$work/debs"
  bash "$root/packaging/build-debs.sh" "$debs" || fail_now "build-debs.sh failed"
fi
for p in "${PKGS[@]}"; do
  ls "$debs/${p}_"*.deb >/dev/null 2>&1 || fail_now "no ${p}_*.deb in $debs"
done
lintian_e=$(grep -c '^E:' "$debs/lintian.txt" || true)
lintian_w=$(grep -c '^W:' "$debs/lintian.txt" || true)
sizes=$(cd "$debs" && for p in "${PKGS[@]}"; do
  printf '%s %s KiB, ' "$p" "$(( $(stat -c %s "${p}_"*.deb) / 1024 ))"; done)

# -- 2. install --------------------------------------------------------------------------------
installed=1
(cd "$debs" && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
   ./synwarden_*.deb ./synwarden-agent_*.deb ./synwarden-dkms_*.deb) >"$work/install.log" 2>&1 ||
  { tail -30 "$work/install.log"; fail_now "apt-get install of the packages failed"; }
echo "smoke-test: installed ${PKGS[*]}"

# -- 3. what the packages installed ------------------------------------------------------------
fw_files=$(dpkg -L synwarden)
# debhelper 13.11 installs units in /lib/systemd/system (later ones in /usr/lib/systemd/system).
units=$(dirname "$(grep -m1 '/systemd/system/synwarden\.service$' <<<"$fw_files" || echo /none/x)")
agent_files=$(dpkg -L synwarden-agent)
dkms_files=$(dpkg -L synwarden-dkms)
version=$(dpkg-query -W -f='${Version}' synwarden-dkms)
dkms_src=/usr/src/synwarden-secrets-${version%%-*}
for f in /usr/sbin/synwarden /usr/bin/synwardenctl /etc/synwarden/synwarden.json \
         "$units/synwarden.service"; do
  check "synwarden ships $f" has_line "$fw_files" "$f"
done
for f in /usr/sbin/synwarden-agent /etc/synwarden/agent.json "$units/synwarden-agent.service"; do
  check "synwarden-agent ships $f" has_line "$agent_files" "$f"
done
for f in dkms.conf Kbuild Makefile main.c procfile.c sw_internal.h; do
  check "synwarden-dkms ships $dkms_src/$f" has_line "$dkms_files" "$dkms_src/$f"
done
check "dkms.conf names version ${version%%-*} (dh_dkms filled #MODULE_VERSION#)" \
  grep -qx "PACKAGE_VERSION=\"${version%%-*}\"" "$dkms_src/dkms.conf"
check "synwarden.json is a conffile of synwarden" \
  has_line "$(dpkg-query -W -f='${Conffiles}\n' synwarden | awk '{print $1}')" /etc/synwarden/synwarden.json
check "agent.json is a conffile of synwarden-agent" \
  has_line "$(dpkg-query -W -f='${Conffiles}\n' synwarden-agent | awk '{print $1}')" /etc/synwarden/agent.json
check "binaries 0755 root:root" mode_is /usr/sbin/synwarden "755 root:root"
check "synwarden-agent 0755 root:root" mode_is /usr/sbin/synwarden-agent "755 root:root"
check "config files 0644 root:root (no secrets in them)" mode_is /etc/synwarden/synwarden.json "644 root:root"
# Keys: generated by the postinst, never shipped.
check "postinst generated /etc/synwarden/agent.key 0600 root:root" \
  mode_is /etc/synwarden/agent.key "600 root:root"
check "agent.key holds 32 bytes" test "$(stat -c %s /etc/synwarden/agent.key)" -eq 32
check "agent.key belongs to no package (generated, not shipped)" \
  sh -c '! dpkg -S /etc/synwarden/agent.key'
check "no key file in any package" sh -c "! dpkg -L ${PKGS[*]} | grep -E '\\.key\$'"
check "postinst created /etc/synwarden/keys 0700 root:root" mode_is /etc/synwarden/keys "700 root:root"
# Idempotent maintainer scripts: configuring again keeps the key (no new key, no error).
sum_before=$(sha256sum /etc/synwarden/agent.key)
check "dpkg-reconfigure of synwarden-agent succeeds" dpkg-reconfigure -fnoninteractive synwarden-agent
check "reconfigure keeps the existing key" test "$sum_before" = "$(sha256sum /etc/synwarden/agent.key)"
check "dpkg-reconfigure of synwarden succeeds" dpkg-reconfigure -fnoninteractive synwarden
# The upgrade path (preinst/prerm/postrm upgrade, postinst configure <old version>): same debs.
check "re-installing the packages over themselves (upgrade path) succeeds" \
  sh -c "cd '$debs' && dpkg -i ./synwarden_*.deb ./synwarden-agent_*.deb ./synwarden-dkms_*.deb"
check "the upgrade keeps the existing key" \
  test "$sum_before" = "$(sha256sum /etc/synwarden/agent.key)"
# Units: installed, valid, neither enabled nor started; the services run as root (no user).
for u in synwarden synwarden-agent; do
  check "$u.service not enabled (no wants link)" \
    absent "/etc/systemd/system/multi-user.target.wants/$u.service"
  # By path: other test tiers on this machine may be running build-tree copies of the daemons.
  check "$u not started by the install" sh -c "! pgrep -f '^/usr/sbin/$u( |\$)'"
done
check "systemd-analyze verify accepts both installed units" \
  sh -c "out=\$(systemd-analyze verify --man=no $units/synwarden.service $units/synwarden-agent.service 2>&1); echo \"\$out\" >&2; [ -z \"\$out\" ]"
check "no system user created (units run as root with a capability bounding set)" \
  sh -c '! getent passwd synwarden && ! getent passwd synwarden-agent'
check "the shipped synwarden.json passes synwarden check-config" \
  /usr/sbin/synwarden check-config --syntax-only --config /etc/synwarden/synwarden.json
check "synwardenctl runs (--help)" /usr/bin/synwardenctl --help
# DKMS: registered; built only when the running kernel has headers.
dkms status synwarden-secrets >"$work/dkms.txt" 2>&1 || true
check "dkms status lists synwarden-secrets/${version%%-*}" \
  grep -q "^synwarden-secrets/${version%%-*}" "$work/dkms.txt"
if [ -d "/lib/modules/$(uname -r)/build" ]; then
  check "dkms built and installed the module for $(uname -r)" \
    grep -q "$(uname -r).*installed" "$work/dkms.txt"
  dkms_note="built for $(uname -r)"
else
  dkms_note="added, not built: no headers for the running kernel $(uname -r)"
fi
echo "smoke-test: dkms: $(tr '\n' ' ' <"$work/dkms.txt")($dkms_note)"

# -- 4. the installed binaries, one connection through the firewall -----------------------------
bpf="$work/bpf"
mkdir -p "$bpf"
cc=(clang -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -I"/usr/include/$(gcc -dumpmachine)")
t="$root/tests/integration"
"${cc[@]}" -c "$t/xdp_pass.bpf.c" -o "$bpf/xdp_pass.bpf.o"
"${cc[@]}" -DSW_VLAN_ID=100 -DSW_VLAN_PUSH -c "$t/vlan_tag.bpf.c" -o "$bpf/vlan_push.bpf.o"
"${cc[@]}" -DSW_VLAN_ID=100 -c "$t/vlan_tag.bpf.c" -o "$bpf/vlan_pop.bpf.o"
set +e
(cd "$work" && /usr/bin/python3 "$root/packaging/smoke_netns.py" --tests-dir "$t" \
   --bpf-dir "$bpf" --units "$units") 2>&1 | tee "$work/netns.log"
net_rc=${PIPESTATUS[0]}
set -e
net_pass=$(grep -c '^PASS:' "$work/netns.log" || true)
net_fail=$(grep -c '^FAIL:' "$work/netns.log" || true)
if [ "$net_rc" -ne 0 ] || [ "$net_fail" -ne 0 ] || [ "$net_pass" -eq 0 ]; then
  echo "FAIL: installed binaries in namespaces (exit $net_rc, $net_fail failed)"
  failed=$((failed + 1))
fi
passed=$((passed + net_pass))

# -- 5. purge, and nothing left ----------------------------------------------------------------
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "${PKGS[@]}" >"$work/purge.log" 2>&1 ||
  { tail -30 "$work/purge.log"; fail_now "apt-get purge failed"; }
installed=0
for p in "${PKGS[@]}"; do
  check "$p purged (no dpkg record left)" \
    sh -c "! dpkg-query -W -f='\${db:Status-Status}' $p 2>/dev/null | grep -qv '^not-installed\$'"
done
for f in /etc/synwarden /usr/sbin/synwarden /usr/bin/synwardenctl /usr/sbin/synwarden-agent \
         "$units/synwarden.service" "$units/synwarden-agent.service" "$dkms_src" \
         /var/lib/dkms/synwarden-secrets \
         /var/lib/systemd/deb-systemd-helper-enabled/synwarden.service.dsh-also \
         /var/lib/systemd/deb-systemd-helper-enabled/synwarden-agent.service.dsh-also; do
  check "purge left no $f" absent "$f"
done
check "dkms no longer knows synwarden-secrets" \
  sh -c '! dkms status synwarden-secrets 2>/dev/null | grep -q synwarden'

elapsed=$(( $(date +%s) - started ))
if [ "$failed" -ne 0 ]; then
  echo "package: FAILED: $failed check(s) failed, $passed passed; lintian $lintian_e errors," \
       "$lintian_w warnings; ${elapsed} s"
  exit 1
fi
echo "package: $passed checks passed: 3 debs built (${sizes%, }), lintian $lintian_e errors" \
     "$lintian_w warnings, installed, 1 connection answered by the installed firewall and" \
     "accepted by the host's kernel (twice: before and after a restart), purged clean;" \
     "dkms $dkms_note; ${elapsed} s"
