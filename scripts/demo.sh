#!/usr/bin/env bash
# The main job: builds synwarden and shows it protecting a real server from a SYN flood.
#
# In network namespaces on this machine (client, attacker, firewall, protected host on one L2
# segment), synwarden-agent runs on the host in BPF mode (Linux >= 6.9: a tc program lets the
# host's kernel accept the firewall's cookies), synwarden polls the agent for the host's secrets,
# the attacker floods the host's address at the flood generator's maximum rate, and the client
# makes 520 real connections (curl, sequential and parallel, and a server-speaks-first banner
# protocol, over IPv4 and IPv6). The last line is the summary:
#   demo: <ok>/<total> connections succeeded under a flood of <N> SYN/s (<M> SYN-ACKs sent, ...)
# Exit status: 0 if >= 99.9 % of the connections succeeded, 1 if not, 2 if the demo cannot run.
# Needs root. Everything it creates (namespaces, a bpffs mount, processes) is removed on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SYNWARDEN_BUILD_DIR:-$root/build}

if [[ $(id -u) -ne 0 ]]; then
  echo "demo: needs root (network namespaces, XDP, BPF); run: sudo bash scripts/demo.sh" >&2
  exit 2
fi

SYNWARDEN_BUILD_DIR="$build" bash "$root/scripts/build.sh"

# BPF mode needs bpf_sk_assign_tcp_reqsk() (Linux >= 6.9); the agent's probe says why not.
if ! probe=$("$build/agent/synwarden-agent" probe 2>&1) || ! grep -q -e "-> bpf" <<<"$probe"; then
  echo "$probe" >&2
  echo "demo: this kernel ($(uname -r)) cannot run the agent in bpf mode, which the demo uses" \
       "(it needs Linux >= 6.9 with BTF). On Debian 12, add the bookworm-backports suite to" \
       "your apt sources (same mirror and components as bookworm), then run apt-get update &&" \
       "apt-get install -y -t bookworm-backports linux-image-amd64 and reboot." \
       "Debian's stock 6.1 kernel is served by the kernel module instead (synwarden-dkms," \
       "agent mode kmod), which scripts/test.sh exercises in a 6.1 VM." >&2
  exit 2
fi

demo_pid=
cleanup() {
  # The Python side removes its namespaces and mounts on SIGTERM; wait for it to finish.
  if [[ -n $demo_pid ]] && kill -0 "$demo_pid" 2>/dev/null; then
    kill -TERM "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cd "$root/tests/integration"
/usr/bin/python3 sw_demo.py --build "$build" &
demo_pid=$!
set +e
wait "$demo_pid"
status=$?
set -e
demo_pid=
exit "$status"
