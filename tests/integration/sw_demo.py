#!/usr/bin/env python3
"""The demonstration scripts/demo.sh runs: the whole product in network namespaces on this
machine's kernel (see sw_e2e.py), under a SYN flood at the generator's maximum rate.

Per address family: the attacker floods the protected address, then while it floods the client
makes sequential and parallel curl requests and server-speaks-first banner exchanges. Ends with
one line

    demo: <ok>/<total> connections succeeded under a flood of <N> SYN/s (<M> SYN-ACKs sent,
    <K> ACKs validated, <D> dropped)

and exits 1 if fewer than 99.9 % of the connections succeeded, 2 if the demo could not run.
"""
import argparse
import json
import os
import sys
import time

from sw_e2e import FLOOD_PREFIX, Scenario, delta, totals
from sw_topology import IPV4, IPV6, Topology

PLAN = [("curl", {"count": 50}), ("curl", {"count": 150, "parallel": 25}),
        ("banner", {"count": 60, "concurrency": 20})]  # per family: 260, 520 in all


def say(text):
    print(f"demo: {text}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True, help="the build directory (scripts/build.sh)")
    ap.add_argument("--host-mode", choices=("bpf", "kmod"), default="bpf",
                    help="the agent's mode (kmod: the caller loaded synwarden_secrets)")
    ap.add_argument("--datapath", choices=("xdp", "afxdp"), default="xdp",
                    help="who answers SYNs: the XDP program (the daemon's default) or the "
                         "AF_XDP workers")
    ap.add_argument("--synwarden", help="the daemon (default: the build directory's)")
    ap.add_argument("--agent", help="synwarden-agent (default: the build directory's)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiplies every connection count of the plan (0 < scale <= 1; the "
                         "debian VM tier runs a quarter of it under qemu without KVM)")
    args = ap.parse_args()
    if not 0 < args.scale <= 1:
        say(f"--scale must be in (0, 1], got {args.scale}")
        return 2
    plan = [(command, {k: max(1, round(v * args.scale)) for k, v in options.items()})
            for command, options in PLAN]
    b = args.build
    binaries = {"synwarden": args.synwarden or f"{b}/userspace/daemon/synwarden",
                "agent": args.agent or f"{b}/agent/synwarden-agent",
                "synflood": f"{b}/tools/synflood/synflood"}
    for path in binaries.values():
        if not os.access(path, os.X_OK):
            say(f"{path} is missing: run scripts/build.sh first")
            return 2

    with Topology(f"{b}/tests/integration/bpf", firewall_queues=2) as topo:
        say("namespaces up: client 192.0.2.1, attacker 192.0.2.2, firewall, host 192.0.2.10 "
            "(2001:db8::/64 too)")
        scenario = Scenario(topo, binaries["synwarden"], binaries["agent"], binaries["synflood"],
                            host_mode=args.host_mode, datapath=args.datapath)
        try:
            scenario.start()
            say(f"synwarden answers SYNs in its {args.datapath} datapath; synwarden-agent in "
                f"{args.host_mode} mode on the host (window scale {scenario.host_wscale()})"
                "; synwarden polls its secrets; HTTP :8080 and banner :2525 on the host")
            before = scenario.daemon.stats()
            ok = total = sent = 0
            seconds = 0.0
            number = 0
            for family, dst in (("4", IPV4["host"]), ("6", IPV6["host"])):
                flood = scenario.flood(family, 120)
                time.sleep(1.0)
                for command, options in plan:
                    if command == "curl":  # distinct objects, so every body is checked anew
                        options = dict(options, first=number)
                        number += options["count"]
                    result = scenario.clients(command, dst, **options)
                    ok, total = ok + result["ok"], total + result["total"]
                    say(f"IPv{family} {result['kind']}: {result['ok']}/{result['total']}"
                        + (f" (first failures: {result['failures'][:3]})"
                           if result["failures"] else ""))
                flood.terminate()
                flooded = json.loads(flood.communicate(timeout=30)[0] or "{}")
                sent += flooded.get("sent", 0)
                seconds += flooded.get("seconds", 0.0)
                say(f"IPv{family} flood: {flooded.get('sent', 0)} SYNs in "
                    f"{flooded.get('seconds', 0):.1f} s from the attacker (random sources "
                    f"in {FLOOD_PREFIX[family]}, netns {topo.ns['attacker']})")
            fw = delta(totals(scenario.daemon.stats()), totals(before))
            nft = scenario.host_nft()
            say(f"the host's TCP stack saw {nft['syn']} SYNs and {nft['attack']} attack packets")
            scenario.stop()
        except Exception:
            if scenario.daemon:
                print(scenario.daemon.log(), file=sys.stderr)
            print(scenario.agent_log() if os.path.exists(scenario.agent_log_path) else "",
                  file=sys.stderr)
            raise
    rate = round(sent / seconds) if seconds else 0
    print(f"demo: {ok}/{total} connections succeeded under a flood of {rate} SYN/s "
          f"({fw['synacks']} SYN-ACKs sent, {fw['acks_valid']} ACKs validated, "
          f"{fw['dropped']} dropped; datapath {args.datapath}, host mode {args.host_mode})",
          flush=True)
    return 0 if total > 0 and ok >= 0.999 * total else 1


if __name__ == "__main__":
    sys.exit(main())
