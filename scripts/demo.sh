#!/usr/bin/env bash
# The main job: builds synwarden and shows it protecting a real server from a SYN flood.
#
# In network namespaces on this machine (client, attacker, firewall, protected host on one L2
# segment), synwarden-agent runs on the host in one of its two host modes, synwarden polls the
# agent for the host's secrets, the attacker floods the host's address at the flood generator's
# maximum rate, and the client makes 520 real connections (curl, sequential and parallel, and a
# server-speaks-first banner protocol, over IPv4 and IPv6). The last line is the summary:
#   demo: <ok>/<total> connections succeeded under a flood of <N> SYN/s (<M> SYN-ACKs sent, ...; datapath <xdp|afxdp>, host mode <kmod|bpf>)
#
# Host modes (docs in README.md, "Supported kernels"):
#   bpf   Linux >= 6.9 with BTF: a tc program lets the host's kernel accept the firewall's cookies.
#   kmod  a kernel with loadable modules (Debian 12's stock 6.1): the synwarden_secrets module.
#         An already loaded module (synwarden-dkms) is used as it is; otherwise the demo loads the
#         one DKMS installed (modprobe) or builds kmod/ against /lib/modules/$(uname -r)/build
#         (scripts/install-deps.sh installs linux-headers-$(uname -r)) and insmods it. A module
#         the demo loaded is unloaded at exit.
# Environment:
#   SYNWARDEN_DEMO_HOST_MODE  auto (default: bpf if the kernel has it, else kmod), bpf or kmod
#   SYNWARDEN_BUILD_DIR       the build directory (default ./build)
#   SYNWARDEN_DEMO_PREBUILT=1 do not build: take the programs from the build directory as they are
#   SYNWARDEN_DEMO_SCALE      multiplies the connection counts (default 1: 520 connections; the
#                             debian VM tier, under qemu without KVM, runs 0.25)
#   SYNWARDEN_DEMO_SYNWARDEN, SYNWARDEN_DEMO_AGENT
#                             other synwarden / synwarden-agent binaries (e.g. the installed
#                             /usr/sbin ones; the Debian 12 VM tier runs the packaged programs)
# Exit status: 0 if >= 99.9 % of the connections succeeded, 1 if not, 2 if the demo cannot run.
# Needs root. Everything it creates (namespaces, a bpffs mount, processes, a module it loaded)
# is removed on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SYNWARDEN_BUILD_DIR:-$root/build}
want=${SYNWARDEN_DEMO_HOST_MODE:-auto}
case "$want" in auto|bpf|kmod) ;; *)
  echo "demo: SYNWARDEN_DEMO_HOST_MODE must be auto, bpf or kmod, not '$want'" >&2; exit 2 ;;
esac

if [[ $(id -u) -ne 0 ]]; then
  echo "demo: needs root (network namespaces, XDP, BPF, kernel modules); run: sudo bash scripts/demo.sh" >&2
  exit 2
fi

if [[ ${SYNWARDEN_DEMO_PREBUILT:-0} != 1 ]]; then
  SYNWARDEN_BUILD_DIR="$build" bash "$root/scripts/build.sh"
fi
synwarden=${SYNWARDEN_DEMO_SYNWARDEN:-$build/userspace/daemon/synwarden}
agent=${SYNWARDEN_DEMO_AGENT:-$build/agent/synwarden-agent}
kver=$(uname -r)

# --- which host mode can run ---------------------------------------------------------------------
# bpf: the agent's own probe (bpf_sk_assign_tcp_reqsk(), Linux >= 6.9, BTF).
bpf_why=
probe=$("$agent" probe 2>&1) || true
if ! grep -q -e "-> bpf" <<<"$probe"; then
  bpf_why="no bpf mode on kernel $kver (it needs Linux >= 6.9 with BTF; the agent's probe: $(tr '\n' ' ' <<<"$probe"))"
fi
# kmod: a kernel with loadable modules and either the module already there or headers to build it.
kmod_why=
kmod_how=
if [[ -e /proc/synwarden_secrets ]]; then
  kmod_how=loaded
elif [[ ! -e /proc/modules ]]; then
  kmod_why="kernel $kver has no loadable module support (CONFIG_MODULES off)"
elif modprobe -n -q synwarden_secrets 2>/dev/null; then
  kmod_how=modprobe
elif [[ -e /lib/modules/$kver/build/Makefile ]]; then
  kmod_how=build
else
  kmod_why="no synwarden_secrets module for kernel $kver and no headers to build it"
  kmod_why+=" (/lib/modules/$kver/build): run scripts/install-deps.sh, which installs"
  kmod_why+=" linux-headers-$kver, or install the synwarden-dkms package"
fi

mode=
case "$want" in
  bpf) [[ -z $bpf_why ]] && mode=bpf ;;
  kmod) [[ -z $kmod_why ]] && mode=kmod ;;
  auto) if [[ -z $bpf_why ]]; then mode=bpf; elif [[ -z $kmod_why ]]; then mode=kmod; fi ;;
esac
if [[ -z $mode ]]; then
  [[ $want != kmod ]] && echo "demo: bpf mode: $bpf_why" >&2
  [[ $want != bpf ]] && echo "demo: kmod mode: $kmod_why" >&2
  echo "demo: this kernel ($kver) can run neither host mode the demo was allowed ($want). What helps:" >&2
  if [[ $want != bpf ]]; then
    if [[ -e /proc/modules ]]; then
      echo "  kmod mode: install the running kernel's headers (scripts/install-deps.sh installs" \
           "linux-headers-$kver; the demo then builds the module) or the synwarden-dkms package" >&2
    else
      echo "  kmod mode: boot a kernel with loadable module support (Debian's stock kernels have it)" >&2
    fi
  fi
  if [[ $want != kmod ]]; then
    echo "  bpf mode: Linux >= 6.9 with BTF. On Debian 12 add the bookworm-backports suite to your" \
         "apt sources (same mirror and components as bookworm), then apt-get update &&" \
         "apt-get install -y -t bookworm-backports linux-image-amd64, and reboot" >&2
  fi
  exit 2
fi

demo_pid=
module_loaded_here=0
cleanup() {
  # The Python side removes its namespaces and mounts on SIGTERM; wait for it to finish.
  if [[ -n $demo_pid ]] && kill -0 "$demo_pid" 2>/dev/null; then
    kill -TERM "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" 2>/dev/null || true
  fi
  if [[ $module_loaded_here == 1 ]]; then
    rmmod synwarden_secrets || echo "demo: could not unload synwarden_secrets (rmmod)" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ $mode == kmod ]]; then
  case "$kmod_how" in
    loaded) echo "demo: kmod mode: using the synwarden_secrets module already loaded" ;;
    modprobe)
      modprobe synwarden_secrets
      module_loaded_here=1
      echo "demo: kmod mode: loaded the installed synwarden_secrets module (modprobe); unloaded at exit" ;;
    build)
      kbuild="$build/kmod-demo-$kver"
      rm -rf "$kbuild"; mkdir -p "$kbuild"
      cp "$root"/kmod/Kbuild "$root"/kmod/Makefile "$root"/kmod/*.c "$root"/kmod/*.h "$kbuild/"
      if ! make -C "/lib/modules/$kver/build" M="$kbuild" modules >"$kbuild/build.log" 2>&1; then
        tail -n 30 "$kbuild/build.log" >&2
        echo "demo: the synwarden_secrets module does not build against /lib/modules/$kver/build" \
             "(log: $kbuild/build.log)" >&2
        exit 2
      fi
      if ! insmod "$kbuild/synwarden_secrets.ko"; then
        echo "demo: insmod $kbuild/synwarden_secrets.ko failed (dmesg says why)" >&2
        exit 2
      fi
      module_loaded_here=1
      echo "demo: kmod mode: built synwarden_secrets for $kver and loaded it; unloaded at exit" ;;
  esac
fi

cd "$root/tests/integration"
/usr/bin/python3 sw_demo.py --build "$build" --host-mode "$mode" \
  --synwarden "$synwarden" --agent "$agent" --scale "${SYNWARDEN_DEMO_SCALE:-1}" &
demo_pid=$!
set +e
wait "$demo_pid"
status=$?
set -e
demo_pid=
exit "$status"
