#!/usr/bin/env python3
"""Specification: when the protected host's agent dies during a flood, the firewall follows the
host's fail policy, and a rebooted host (new keys) is protected again within one poll interval.

The whole product runs (agent in bpf mode on the host; the daemon polls it every second and
holds the last good secrets for 2 s, hold_ms). 20 long-lived echo streams (IPv4 and IPv6) run
through the firewall and a SYN flood hits the host's port the whole time. Then:
  1. the agent is killed with SIGKILL. Once the held secrets expire the daemon logs the state
     change naming the policy, and for the next seconds:
       closed: SYNs are dropped and counted (dropped_fail_closed), no SYN-ACK is built, nothing
               reaches the host's stack, a new connection does not complete;
       open:   SYNs are forwarded to the host and counted (forwarded_fail_open), the host's own
               kernel answers them, a new connection completes;
  2. the agent is started again after its pinned key state was deleted (a host reboot: bpffs
     is empty, the agent generates new keys, disjoint from the old ones): the daemon has them
     within one poll interval of the agent serving again, and new connections succeed within
     one poll interval plus one probe retry (a dropped SYN is retried after 1 s) plus 1 s of
     scheduling slack -- far inside the issue's bound of one poll interval plus one cookie
     lifetime (2 minutes); the firewall answers SYNs with cookies again and nothing reaches the
     host's stack;
  3. every stream survived all of it, and no key (old or new) appears in the logs.
Throughout, `synwardenctl health` (GET /health, what a route watcher runs) says healthy (exit 0)
while the box serves, unhealthy (exit 1, the secrets check failing and naming both hosts as
expired) while the agent is dead past the hold time, and healthy again once the new keys are in.
`test_control_restart.py` covers the daemon's kill -9; this test covers the agent's.
"""
import datetime
import json
import re
import sys
import time

import sw_control as C
import sw_hardening as H
from sw_e2e import FLOOD_PREFIX, wait_for
from sw_harness import Checks
from sw_servers import HTTP_PORT
from sw_topology import IPV4, IPV6, Topology

POLL_MS, HOLD_MS = 1000, 2000
STREAMS = 10          # per family
STREAM_MAX_S = 120    # the streams are stopped when the scenario ends (about 20 s)
FLOOD_RATE = 3000     # SYN/s: enough to see, little enough that the host's own kernel copes
RECOVERY_SLACK_S = 1.0  # scheduling on a loaded 2-core machine


def health(topo, synwardenctl):
    """(exit status, output) of `synwardenctl health` in the firewall namespace."""
    r = C.ctl(topo, synwardenctl, "health", check=False)
    return r.returncode, r.stdout + r.stderr


def window(scenario, seconds):
    """Counter deltas and host nft deltas over `seconds`."""
    s0, n0 = scenario.daemon.stats(), scenario.host_nft()
    time.sleep(seconds)
    s1, n1 = scenario.daemon.stats(), scenario.host_nft()
    d = H.counter_deltas(s1, s0)
    d["host_syn"] = n1["syn"] - n0["syn"]
    return d


def main():
    ap = H.argument_parser()
    ap.add_argument("--fail", choices=("closed", "open"), required=True)
    args = ap.parse_args()
    checks = Checks()
    closed = args.fail == "closed"
    print(f"== hardening: agent killed during a flood, fail policy {args.fail}, datapath "
          f"{args.datapath} ==")
    with Topology(args.bpf_dir, firewall_queues=2) as topo:
        scenario = H.HardeningScenario(topo, args.synwarden, args.agent, args.synflood,
                                       fail=args.fail, poll_ms=POLL_MS, hold_ms=HOLD_MS,
                                       datapath=args.datapath)
        try:
            scenario.start()
            old_keys = H.agent_key_state(scenario.agent_pin_dir())
            # The streams span the whole scenario: stopped (SIGTERM) once step 2 is judged,
            # STREAM_MAX_S only bounds them if the test itself hangs.
            streams = [scenario.start_streams(IPV4["host"], STREAMS, STREAM_MAX_S),
                       scenario.start_streams(IPV6["host"], STREAMS, STREAM_MAX_S)]
            flood = C.start_flood(topo, args.synflood, IPV4["host"], HTTP_PORT, FLOOD_RATE, 40,
                                  prefix=FLOOD_PREFIX["4"])
            time.sleep(1.5)
            protected = window(scenario, 2.0)
            healthy_before = health(topo, args.synwardenctl)

            # 1. The agent dies.
            log_offset = len(scenario.daemon.log())
            scenario.kill_agent()
            killed = time.monotonic()
            wait_for(lambda: scenario.daemon.log()[log_offset:].count("-> expired") >= 2,
                     (HOLD_MS + 2 * POLL_MS) / 1000 + 5, "both hosts' secrets to expire")
            expired_after = time.monotonic() - killed
            time.sleep(0.5)
            outage = window(scenario, 2.0)
            outage_probe = H.banner_probe(topo, IPV4["host"], 2.5)
            unhealthy = health(topo, args.synwardenctl)
            unhealthy_json = C.ctl(topo, args.synwardenctl, "health", "--json", check=False)
            outage_log = scenario.daemon.log()[log_offset:]

            # 2. The host reboots: new keys.
            log_offset = len(scenario.daemon.log())
            # Fail closed: probes already fail (SYNs dropped) while the agent comes back, so
            # the first success measures recovery (to within the 1 s connect timeout). Fail
            # open: the host's own kernel would answer them, so probing starts afterwards and
            # the daemon's log times the recovery of protection.
            prober = H.RecoveryProber(topo, IPV4["host"], 20) if closed else None
            scenario.restart_agent(new_keys=True)
            serving = time.monotonic()
            serving_wall = time.time()
            prober = prober or H.RecoveryProber(topo, IPV4["host"], 20)
            probe = prober.result(timeout=40)
            recovered_s = (max(0.0, probe["connect_started"] - serving) if probe["ok"]
                           else float("inf"))
            new_keys = H.agent_key_state(scenario.agent_pin_dir())
            time.sleep(1.0)
            after = window(scenario, 2.0)
            after_probe6 = H.banner_probe(topo, IPV6["host"], 3.0)
            healthy_after = health(topo, args.synwardenctl)
            recovery_log = scenario.daemon.log()[log_offset:]

            # 3. The streams.
            stream_results = scenario.end_streams(streams)
            flood.terminate()
            flood.communicate(timeout=30)
            scenario.stop()
        finally:
            daemon_log, agent_log = H.stop_and_collect_logs(scenario)

    show = lambda d: json.dumps({k: v for k, v in d.items() if k in (
        "syn_received", "synack_built", "dropped_fail_closed", "forwarded_fail_open",
        "xsk_syn", "host_syn")})
    print(f"protected, 2 s: {show(protected)}")
    print(f"secrets expired {expired_after:.1f} s after the kill (hold {HOLD_MS} ms)")
    print(f"outage, 2 s: {show(outage)}; probe {json.dumps(outage_probe)}")
    print(f"after the restart, 2 s: {show(after)}")
    print(f"new connections recovered {recovered_s:.2f} s after the agent served again "
          f"({json.dumps(probe)})")

    checks.check("before the kill the firewall answers the flood with cookies",
                 protected["synack_built"] > 0 and protected["host_syn"] == 0, show(protected))
    checks.check("the held secrets expire within hold + two polls of the kill",
                 expired_after <= (HOLD_MS + 2 * POLL_MS) / 1000 + 2, f"{expired_after:.1f} s")
    policy_line = (f"fail policy closed: SYNs to {IPV4['host']} are dropped" if closed
                   else f"fail policy open: SYNs to {IPV4['host']} are forwarded to it unprotected")
    checks.check("the daemon's log says the secrets expired and which policy now applies",
                 policy_line in outage_log, outage_log.strip()[-600:])
    if closed:
        checks.check("fail closed: SYNs are dropped and counted, none answered or forwarded",
                     outage["dropped_fail_closed"] > 0 and outage["synack_built"] == 0
                     and outage["forwarded_fail_open"] == 0 and outage["host_syn"] == 0,
                     show(outage))
        checks.check("fail closed: a new connection does not complete", not outage_probe["ok"],
                     json.dumps(outage_probe))
    else:
        checks.check("fail open: SYNs are forwarded to the host and counted, none answered",
                     outage["forwarded_fail_open"] > 0 and outage["synack_built"] == 0
                     and outage["dropped_fail_closed"] == 0 and outage["host_syn"] > 0,
                     show(outage))
        checks.check("fail open: a new connection completes through the host's own kernel",
                     outage_probe["ok"], json.dumps(outage_probe))
    checks.check("the restarted agent generated new keys (a reboot), none of the old ones",
                 new_keys and not set(new_keys) & set(old_keys),
                 f"{len(new_keys)} new, {len(set(new_keys) & set(old_keys))} shared")
    checks.check("the daemon took the new secrets (expired -> fresh for both hosts)",
                 recovery_log.count("expired -> fresh") >= 2, recovery_log.strip()[-600:])
    # The daemon's log is stamped with wall-clock UTC (ISO 8601, milliseconds).
    fresh = re.search(rf"^(\S+Z) synwarden info: host {re.escape(IPV4['host'])}: "
                      r"secrets expired -> fresh", recovery_log, re.M)
    keys_s = (datetime.datetime.strptime(fresh.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
              .replace(tzinfo=datetime.timezone.utc).timestamp() - serving_wall
              if fresh else float("inf"))
    print(f"the daemon had the new keys {keys_s:.2f} s after the agent served again")
    checks.check("the daemon had the new keys within one poll interval of the agent serving",
                 keys_s <= POLL_MS / 1000 + 0.5, f"{keys_s:.2f} s")
    checks.check(f"new connections recovered within one poll interval + one probe retry (1 s) "
                 f"+ {RECOVERY_SLACK_S} s of the agent serving again",
                 probe["ok"] and recovered_s <= POLL_MS / 1000 + 1.0 + RECOVERY_SLACK_S,
                 f"{recovered_s:.2f} s; {json.dumps(probe)}")
    checks.check("after recovery the firewall answers the flood with cookies again and nothing "
                 "reaches the host's stack",
                 after["synack_built"] > 0 and after["dropped_fail_closed"] == 0
                 and after["forwarded_fail_open"] == 0 and after["host_syn"] == 0, show(after))
    checks.check("after recovery an IPv6 connection completes too", after_probe6["ok"],
                 json.dumps(after_probe6))
    checks.check("synwardenctl health: healthy (exit 0) while serving",
                 healthy_before[0] == 0 and healthy_before[1].startswith("healthy"),
                 healthy_before[1])
    stale = {s["address"]: s for s in json.loads(unhealthy_json.stdout or "{}").get("stale_hosts", [])}
    checks.check("synwardenctl health: unhealthy (exit 1) while the agent is dead past the hold "
                 "time, the secrets check failing and both hosts named as expired with their age",
                 unhealthy[0] == 1 and "secrets   FAIL" in unhealthy[1]
                 and "dataplane ok" in unhealthy[1] and "workers   ok" in unhealthy[1]
                 and unhealthy_json.returncode == 1
                 and set(stale) == {IPV4["host"], IPV6["host"]}
                 and all(s["state"] == "expired" and s["age_ms"] >= HOLD_MS for s in stale.values()),
                 unhealthy[1] + unhealthy_json.stdout)
    checks.check("synwardenctl health: healthy again (exit 0) once the new keys are in",
                 healthy_after[0] == 0 and healthy_after[1].startswith("healthy"),
                 healthy_after[1])
    ok = sum(r["ok"] for r in stream_results)
    checks.check(f"all {2 * STREAMS} established streams survived the agent's death, the "
                 f"outage and the new keys",
                 ok == 2 * STREAMS and all(r["min_chunks"] >= 100 for r in stream_results),
                 json.dumps(stream_results))
    leaks = H.leaked({"daemon log": daemon_log, "agent log": agent_log}, old_keys + new_keys)
    checks.check("no secret material (old or new keys) in the logs", not leaks, str(leaks[:5]))
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
