"""A firewall that loses its established map while long-lived streams run: what
integration_flow_recovery (timestamped streams) and integration_flow_confirm (streams without
timestamps) share. The daemon stops with its dataplane removed (XDP program detached, pinned maps
deleted: what a reboot of the firewall leaves) and starts again with an empty established map;
then the streams' flows must come back into the map.
"""
import json
import os
import time

import sw_daemon as D
from sw_servers import ECHO_PORT
from sw_topology import IPV4, IPV6


def stream_flows(pin_dir):
    """Flows of the echo streams in the pinned established map."""
    return sum(1 for f in D.established_flows(pin_dir) if f["dport"] == ECHO_PORT)


def start_doubled_streams(scenario, per_family, seconds):
    """`per_family` long-lived streams to each protected address (IPv4, IPv6) with doubled
    echoes: the host sends twice what it receives, so a stream's later segments are no longer
    valid cookies (in a plain echo stream ACK - seq stays the handshake's, and the cookie check
    alone would recover the flow for 2 minutes)."""
    return [scenario.start_streams(address, per_family, seconds, double=True)
            for address in (IPV4["host"], IPV6["host"])]


def restart_without_pins(scenario, pin_dir, expected_flows, outage_s=1.0, wait_s=15):
    """Stops the daemon (it removes its pins), waits `outage_s`, starts it again and waits until
    `expected_flows` stream flows are back in the map (or `wait_s`). Returns a dict: flows
    before, whether the stop removed the map, flows back, and the times (s) from the stop and
    from the new daemon's start until they were back."""
    before = stream_flows(pin_dir)
    scenario.daemon.stop()
    gone = not os.path.exists(os.path.join(pin_dir, "sw_flows"))
    t_stop = time.monotonic()
    time.sleep(outage_s)
    scenario.daemon.start(timeout=20)
    t_up = time.monotonic()
    # Every stream sends every 100 ms (and retransmits what was lost): once its flow is learnt
    # again its echoes come back.
    deadline, back = time.monotonic() + wait_s, 0
    while time.monotonic() < deadline:
        back = stream_flows(pin_dir)
        if back >= expected_flows:
            break
        time.sleep(0.1)
    t_back = time.monotonic()
    return {"before": before, "gone": gone, "back": back,
            "since_start_s": t_back - t_up, "since_stop_s": t_back - t_stop}


def stream_results(procs, seconds):
    """The last JSON line of each sw_e2e_clients.py streams process."""
    return [json.loads(p.communicate(timeout=seconds + 60)[0].splitlines()[-1]) for p in procs]


def nonzero_counters(report):
    """The XDP reasons and the workers' counters of a SIGUSR1 report that are not zero."""
    xdp = {k: v for k, v in D.xdp_packets(report).items() if v}
    workers = {k: D.worker_total(report, k) for k in report["workers"][0]["counters"]
               if D.worker_total(report, k)} if report.get("workers") else {}
    return xdp, workers
