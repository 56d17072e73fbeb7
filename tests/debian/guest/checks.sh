#!/bin/bash
# The debian tier inside the Debian 12 guest (systemd is PID 1; started by swdeb-payload.service
# from the read-only payload disk mounted on /run/swdeb). Output goes to the second serial port:
#   SWDEB PASS|FAIL <what> [-- detail]   one per check (the host counts them)
#   SWDEB info <what>: <value>           measurements and outputs for the report
#   SWDEB-END                            the last line; its absence is a failure
# Sections: boot, demo (scripts/demo.sh in kmod mode, the module built from headers), install
# (apt install of the three .debs, DKMS builds the module), units (units_under_load.py: the
# packaged programs under systemd in the demo's topology under a flood, restarts), security
# (systemd-analyze security), purge (nothing left behind).
set -u
P=/run/swdeb
kver=$(uname -r)
passed=0
failed=0
pass() { echo "SWDEB PASS $*"; passed=$((passed + 1)); }
fail() { echo "SWDEB FAIL $*"; failed=$((failed + 1)); }
info() { echo "SWDEB info $*"; }
check() {  # check "what" command...
  local what=$1; shift
  local out
  if out=$("$@" 2>&1); then pass "$what"; else fail "$what -- $(tr '\n' ' ' <<<"$out" | cut -c1-600)"; fi
}
absent() { if [ -e "$1" ]; then echo "$1 exists"; return 1; fi; }
nothing() { local out; out=$("$@" 2>/dev/null); [ -z "$out" ] || { echo "found: $out"; return 1; }; }
now() { cut -d' ' -f1 /proc/uptime; }
secs_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }'; }

# --- boot ----------------------------------------------------------------------------------------
section_boot() {
  info "boot: kernel $kver, PID 1 $(readlink /proc/1/exe), payload started at uptime $(now) s"
  check "PID 1 is systemd" test "$(basename "$(readlink /proc/1/exe)")" = systemd
  check "the guest runs Debian's stock 6.1 kernel ($kver)" grep -q '^6\.1\.0-.*-amd64$' <<<"$kver"
  check "Debian 12 userland" grep -q '^12\.' /etc/debian_version
  state=$(systemctl is-system-running --wait 2>/dev/null)
  info "boot: systemctl is-system-running: $state (uptime $(now) s)"
  check "system reached running (no failed unit: $(systemctl --failed --no-legend --plain | awk '{print $1}' | tr '\n' ' '))" \
    test "$state" = running
}

# --- demo: README command 1's demo on this stock kernel, kmod mode, module built here ----------
section_demo() {
  cp -a "$P/demo" /root/demo
  t=$(now)
  SYNWARDEN_DEMO_PREBUILT=1 SYNWARDEN_BUILD_DIR=/root/demo/build SYNWARDEN_DEMO_HOST_MODE=bpf \
    bash /root/demo/scripts/demo.sh >/root/demo-bpf.log 2>&1
  rc=$?
  check "demo with SYNWARDEN_DEMO_HOST_MODE=bpf exits 2 on 6.1, naming the backports suite" \
    sh -c "[ $rc -eq 2 ] && grep -q bookworm-backports /root/demo-bpf.log"
  # Streamed, so a slow run shows where it is.
  SYNWARDEN_DEMO_PREBUILT=1 SYNWARDEN_BUILD_DIR=/root/demo/build SYNWARDEN_DEMO_SCALE=0.25 \
    bash /root/demo/scripts/demo.sh 2>&1 | tee /root/demo.log | grep --line-buffered '^demo: ' |
    sed -u 's/^/SWDEB info demo output: /'
  rc=${PIPESTATUS[0]}
  info "demo: exit $rc after $(secs_since "$t") s"
  summary=$(grep -E '^demo: [0-9]+/[0-9]+ connections succeeded' /root/demo.log | tail -n 1)
  info "demo summary line: $summary"
  check "demo (mode auto) exits 0 on the stock kernel" test "$rc" -eq 0
  check "demo chose kmod mode and built the module from the kernel's headers" \
    grep -q "kmod mode: built synwarden_secrets for $kver" /root/demo.log
  check "demo summary line says host mode kmod" grep -q 'host mode kmod)$' <<<"$summary"
  check "demo unloaded the module it loaded" sh -c '! grep -q "^synwarden_secrets " /proc/modules'
  [ "$rc" -eq 0 ] || tail -n 40 /root/demo.log | sed 's/^/SWDEB info demo log: /'
}

# --- install: apt install ./….deb; DKMS builds the module for this kernel ------------------------
section_install() {
  cd "$P/debs" || exit 1
  t=$(now)
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    ./synwarden_*.deb ./synwarden-agent_*.deb ./synwarden-dkms_*.deb >/root/install.log 2>&1
  rc=$?
  info "install: apt-get install of the 3 .debs (DKMS build included) took $(secs_since "$t") s"
  cd / || exit 1
  check "apt install ./synwarden_*.deb ./synwarden-agent_*.deb ./synwarden-dkms_*.deb" \
    sh -c "[ $rc -eq 0 ] || { tail -n 30 /root/install.log; false; }"
  info "dkms status: $(dkms status synwarden-secrets 2>/dev/null | tr '\n' ' ')"
  check "DKMS built and installed synwarden_secrets for $kver at install time" \
    sh -c "dkms status synwarden-secrets | grep -q '$kver.*installed'"
  check "the module is in /lib/modules/$kver/updates/dkms" \
    test -f "/lib/modules/$kver/updates/dkms/synwarden_secrets.ko"
  check "the install loaded the module (synwarden-dkms postinst)" grep '^synwarden_secrets ' /proc/modules
  for u in synwarden synwarden-agent; do
    check "$u.service installed, not enabled" test "$(systemctl is-enabled $u.service 2>&1)" = disabled
  done
}

# --- units: the packaged programs under systemd, in the demo's topology, under a flood ------------
section_units() {
  python3 "$P/units_under_load.py" --tests-dir "$P/demo/tests/integration" \
    --bpf-dir "$P/demo/build/tests/integration/bpf" \
    --synflood "$P/demo/build/tools/synflood/synflood" >/root/units.log 2>&1
  rc=$?
  grep -E '^(PASS|FAIL): ' /root/units.log | sed -e 's/^PASS: /SWDEB PASS units: /' -e 's/^FAIL: /SWDEB FAIL units: /'
  passed=$((passed + $(grep -c '^PASS: ' /root/units.log)))
  failed=$((failed + $(grep -c '^FAIL: ' /root/units.log)))
  grep -vE '^(PASS|FAIL): ' /root/units.log | sed 's/^/SWDEB info units: /' | tail -n 60
  check "units_under_load.py exits 0" test "$rc" -eq 0
}

# --- security: how systemd applies the units' hardening -------------------------------------------
section_security() {
  for u in synwarden synwarden-agent; do
    systemd-analyze security --no-pager "$u.service" >"/root/security-$u.txt" 2>&1
    score=$(grep -oE 'Overall exposure level for [^:]+: [0-9.]+ [A-Z]+' "/root/security-$u.txt")
    info "security: $score"
    grep -E '^ *✗' "/root/security-$u.txt" | sed "s/^/SWDEB info security $u not applied: /" | head -n 40
    info "security: $u CapabilityBoundingSet: $(systemctl show -p CapabilityBoundingSet --value "$u.service")"
  done
}

# --- purge: nothing left behind ------------------------------------------------------------------
section_purge() {
  DEBIAN_FRONTEND=noninteractive apt-get purge -y -q synwarden synwarden-agent synwarden-dkms \
    >/root/purge.log 2>&1
  rc=$?
  check "apt-get purge synwarden synwarden-agent synwarden-dkms" \
    sh -c "[ $rc -eq 0 ] || { tail -n 30 /root/purge.log; false; }"
  for p in synwarden synwarden-agent synwarden-dkms; do
    check "purge: no dpkg record of $p" \
      sh -c "! dpkg-query -W -f='\${db:Status-Status}' $p 2>/dev/null | grep -qv '^not-installed\$'"
  done
  check "purge: no synwarden unit known to systemd" \
    nothing systemctl list-unit-files --no-legend "synwarden*"
  check "purge: no synwarden_secrets module loaded" nothing grep "^synwarden_secrets " /proc/modules
  check "purge: no synwarden_secrets.ko under /lib/modules" \
    nothing find /lib/modules -name "synwarden_secrets.ko*"
  check "purge: no pin under /sys/fs/bpf" nothing find /sys/fs/bpf -path "*synwarden*"
  for f in /etc/synwarden /usr/sbin/synwarden /usr/bin/synwardenctl /usr/sbin/synwarden-agent \
           /lib/systemd/system/synwarden.service /lib/systemd/system/synwarden-agent.service \
           /run/systemd/system/synwarden.service.d /run/systemd/system/synwarden-agent.service.d \
           /var/lib/dkms/synwarden-secrets /usr/share/doc/synwarden /usr/share/doc/synwarden-agent \
           /usr/share/doc/synwarden-dkms; do
    check "purge: no $f" absent "$f"
  done
  check "purge: no /usr/src/synwarden-secrets-*" nothing find /usr/src -maxdepth 1 -name "synwarden*"
  check "purge: no synwarden process" nothing pgrep -af "^/usr/sbin/synwarden"
  check "purge: no file of any package named synwarden* left in the dpkg database" \
    nothing find /var/lib/dpkg/info -name "synwarden*"
  check "purge: no file named synwarden* anywhere under /etc, /usr, /var, /lib, /run" \
    nothing find /etc /usr /var /lib /run -xdev -name "*synwarden*" ! -path "/run/swdeb/*"
}

# SWDEB_SECTIONS (payload file "sections", run.sh's environment): run only these, for debugging a
# section; the tier itself always runs all of them.
sections="boot demo install units security purge"
[ -f "$P/sections" ] && sections=$(cat "$P/sections")
for s in $sections; do "section_$s"; done
info "guest: $passed passed, $failed failed, payload done at uptime $(now) s"
echo "SWDEB-END"
