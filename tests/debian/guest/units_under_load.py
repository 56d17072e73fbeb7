#!/usr/bin/python3
"""The debian tier's in-guest scenario: the PACKAGED synwarden and synwarden-agent, started by
systemd from their installed units, carry real connections through the demo's topology
(tests/integration/sw_topology.py: client, attacker, firewall, protected host on one bridge)
under a SYN flood, and each unit is restarted under that load.

  host      synwarden-agent.service in kmod mode (the module DKMS built at install time), its
            NetworkNamespacePath the host's namespace (a runtime drop-in), listening on
            192.0.2.10:7070 with the key its postinst generated
  firewall  synwarden.service on the firewall's e0 (drop-in: the firewall's namespace), polling
            that agent with the operator's copy of the key in /etc/synwarden/keys/
  attacker  synflood (the build's) at a fixed rate, spoofed sources in 198.51.100.0/24
  client    long-lived echo streams (sw_stream.py) opened through the firewall with protection
            on, so every one was answered with a cookie and accepted by the host's kernel
            through the module; then fresh curl connections

Pass criteria (PASS/FAIL lines): both units active; the daemon holds fresh secrets and the
agent runs in kmod mode; the streams connect under the flood; `systemctl restart synwarden`
and then `systemctl restart synwarden-agent` under load break no stream and each unit is active
again afterwards; fresh connections during the flood after both restarts succeed; the firewall
answered the flood with cookie SYN-ACKs; at the end the daemon (keep_dataplane_on_exit false for
its last run) detaches and unpins, the agent turns the module's gate off.
Usage: units_under_load.py --tests-dir DIR --bpf-dir DIR --synflood FILE
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

CTL = "/usr/bin/synwardenctl"
AGENT_KEY = "/etc/synwarden/agent.key"
FW_KEY = "/etc/synwarden/keys/192.0.2.10.key"
AGENT_JSON = "/etc/synwarden/agent.json"
FW_JSON = "/etc/synwarden/synwarden.json"
DROPIN = "/run/systemd/system/{unit}.service.d/swdeb-netns.conf"
AGENT_PORT = 7070
API_PORT = 9477
STREAMS = 20
FLOOD_RATE = 20000
GATE = "/sys/module/synwarden_secrets/parameters/accept_cookies"
# Capability numbers (linux/capability.h), index = bit.
CAPS = ("chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap "
        "linux_immutable net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner "
        "sys_module sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice "
        "sys_resource sys_time sys_tty_config mknod lease audit_write audit_control setfcap "
        "mac_override mac_admin syslog wake_alarm block_suspend audit_read perfmon bpf "
        "checkpoint_restore").split()


def cap_names(mask):
    return {f"cap_{name}" for bit, name in enumerate(CAPS) if mask >> bit & 1}


def process_caps(pid):
    """{"CapEff": names, "CapBnd": names} of a running process."""
    caps = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("CapEff", "CapBnd"):
                caps[key] = cap_names(int(value.strip(), 16))
    return caps


def sh(*cmd, check=True):
    return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tests-dir", required=True)
    ap.add_argument("--bpf-dir", required=True)
    ap.add_argument("--synflood", required=True)
    args = ap.parse_args()
    sys.dont_write_bytecode = True
    sys.path.insert(0, args.tests_dir)
    import sw_control as C
    from sw_harness import Checks
    from sw_servers import HTTP_PORT
    from sw_topology import IPV4, MACS, Topology

    checks = Checks()
    host = IPV4["host"]
    stream_port = 8080 if HTTP_PORT != 8080 else 8081
    new_port = stream_port + 10  # a second protected port: fresh connections after the restarts

    def active(unit):
        return sh("systemctl", "is-active", unit, check=False).stdout.strip() == "active"

    def restarts(unit):
        return sh("systemctl", "show", "-p", "NRestarts", "--value", unit).stdout.strip()

    def wait_active(unit, timeout=30, steady=3.0):
        """Active, and still active `steady` seconds later without a restart by systemd."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if active(unit):
                count = restarts(unit)
                time.sleep(steady)
                return active(unit) and restarts(unit) == count
            time.sleep(0.2)
        return False

    def gate():
        return open(GATE).read().strip() if os.path.exists(GATE) else "absent"

    with Topology(args.bpf_dir) as topo:
        # The firewall's management address: its poller reaches the agent from there.
        topo.ip("firewall", "addr", "add", "192.0.2.3/24", "dev", "e0")
        for unit, role in (("synwarden", "firewall"), ("synwarden-agent", "host")):
            path = DROPIN.format(unit=unit)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                # With a network namespace of its own systemd mounts a fresh sysfs for the unit
                # (so /sys/class/net shows that namespace): bind the system's bpffs over its
                # /sys/fs/bpf, where the daemon pins its maps (in the initial namespace, as
                # deployed, the unit sees the system's /sys and needs no such line).
                f.write(f"[Service]\nNetworkNamespacePath=/run/netns/{topo.ns[role]}\n"
                        "BindPaths=/sys/fs/bpf\n")
        shutil.copyfile(AGENT_KEY, FW_KEY)
        os.chmod(FW_KEY, 0o600)
        with open(AGENT_JSON, "w") as f:
            json.dump({"listen": f"{host}:{AGENT_PORT}", "key_file": AGENT_KEY, "mode": "kmod",
                       "interfaces": ["e0"], "ports": [stream_port, new_port]}, f, indent=2)
        config = {
            "interface": "e0",
            "keep_dataplane_on_exit": True,
            "api": {"address": "127.0.0.1", "port": API_PORT, "persist_changes": False},
            "protected_hosts": [{
                "address": host, "mac": MACS["host"], "ports": [stream_port, new_port],
                "protection": True,
                "agent": {"address": f"{host}:{AGENT_PORT}", "key_file": FW_KEY,
                          "poll_interval_ms": 1000, "fail": "closed"}}],
        }
        with open(FW_JSON, "w") as f:
            json.dump(config, f, indent=2)
        sh("systemctl", "daemon-reload")

        def ctl(*cmd):
            out = topo.sh("firewall", CTL, *cmd, "--api", f"http://127.0.0.1:{API_PORT}",
                          "--json", check=False)
            return json.loads(out.stdout) if out.returncode == 0 else {}

        def host_stats():
            for h in ctl("stats").get("hosts", []):
                if h.get("address") == host:
                    return h
            return {}

        def fresh(timeout=30):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if host_stats().get("secrets_state") == "fresh":
                    return True
                time.sleep(0.3)
            return False

        try:
            sh("systemctl", "start", "synwarden-agent.service")
            checks.check("systemctl start synwarden-agent: active (and stays so)",
                         wait_active("synwarden-agent"))
            sh("systemctl", "start", "synwarden.service", check=False)
            checks.check("systemctl start synwarden: active (and stays so)",
                         wait_active("synwarden"))
            for unit in ("synwarden-agent", "synwarden"):
                print(sh("systemctl", "status", "--no-pager", "--lines=6", unit,
                         check=False).stdout, flush=True)
                print(f"journal of {unit}.service:\n" +
                      sh("journalctl", "-u", f"{unit}.service", "--no-pager", "-n", "30",
                         check=False).stdout, flush=True)
            agent_log = sh("journalctl", "-u", "synwarden-agent", "--no-pager", "-o", "cat",
                           check=False).stdout
            checks.check("the agent runs in kmod mode (journal: \"kmod chose kmod\")",
                         "kmod chose kmod" in agent_log and "serving secrets" in agent_log,
                         agent_log[-600:])
            checks.check("the module's gate is on while the agent runs", gate() in ("1", "Y"),
                         gate())
            checks.check("synwarden holds fresh secrets from the agent (synwardenctl stats)",
                         fresh(), json.dumps(host_stats())[:600])
            for unit in ("synwarden", "synwarden-agent"):
                pid = sh("systemctl", "show", "-p", "MainPID", "--value", unit).stdout.strip()
                allowed = set(sh("systemctl", "show", "-p", "CapabilityBoundingSet", "--value",
                                 unit).stdout.split())
                caps = process_caps(pid) if pid not in ("", "0") else {}
                print(f"capabilities of {unit} (pid {pid}): effective "
                      f"{' '.join(sorted(caps.get('CapEff', [])))}; bounding "
                      f"{' '.join(sorted(caps.get('CapBnd', [])))}", flush=True)
                checks.check(f"{unit}'s process holds only its unit's capabilities "
                             f"({' '.join(sorted(allowed))})",
                             bool(caps) and caps["CapBnd"] == allowed
                             and caps["CapEff"] <= allowed and len(allowed) <= 5,
                             json.dumps({k: sorted(v) for k, v in caps.items()}))

            flood = C.start_flood(topo, args.synflood, host, stream_port, FLOOD_RATE, 600)
            time.sleep(1.0)
            before = host_stats().get("counters", {})
            try:
                streams = C.Streams(topo, host, stream_port, STREAMS)
            except RuntimeError:
                print(json.dumps(ctl("stats"))[:3000], flush=True)
                print(sh("journalctl", "-u", "synwarden.service", "--no-pager", "-n", "40",
                         check=False).stdout, flush=True)
                raise
            checks.check(f"{STREAMS} streams connected through the firewall under the flood",
                         True)
            time.sleep(2.0)
            for unit in ("synwarden", "synwarden-agent"):
                sh("systemctl", "restart", f"{unit}.service", check=False)
                ok = wait_active(unit)
                fresh_again = fresh()
                time.sleep(2.0)
                probe = streams.probe()
                checks.check(f"systemctl restart {unit} under the flood: active again, secrets "
                             f"fresh, no stream broken", ok and fresh_again and
                             probe.get("broken") == 0, json.dumps(probe))
            new = C.Streams(topo, host, new_port, 5)
            time.sleep(1.5)  # a dozen rounds of messages, echoed by the host
            new_summary = new.stop()
            checks.check("5 new connections through the firewall after both restarts, echoed",
                         new_summary.get("echoed_ok") is True
                         and new_summary.get("min_bytes_per_connection", 0) > 0,
                         json.dumps(new_summary))
            after = host_stats().get("counters", {})
            summary = streams.stop()
            checks.check(f"all {STREAMS} streams intact at the end (every byte back in order)",
                         summary.get("broken") == [] and summary.get("echoed_ok") is True
                         and summary.get("connections") == STREAMS, json.dumps(summary))
            synacks = after.get("synack", 0) - before.get("synack", 0)
            checks.check("the firewall answered the flood with cookie SYN-ACKs", synacks > 1000,
                         f"{synacks} SYN-ACKs; counters {json.dumps(after)[:400]}")
            flood.terminate()
            flood.wait(timeout=30)

            # Leave nothing: the last run detaches and unpins (keep_dataplane_on_exit false).
            config["keep_dataplane_on_exit"] = False
            with open(FW_JSON, "w") as f:
                json.dump(config, f, indent=2)
            sh("systemctl", "restart", "synwarden.service", check=False)
            wait_active("synwarden")
        finally:
            sh("systemctl", "stop", "synwarden.service", "synwarden-agent.service", check=False)
            for unit in ("synwarden", "synwarden-agent"):
                shutil.rmtree(os.path.dirname(DROPIN.format(unit=unit)), ignore_errors=True)
            sh("systemctl", "daemon-reload", check=False)
        checks.check("the stopped daemon detached its XDP program", topo.xdp_attached() is None)
        checks.check("the stopped agent turned the module's gate off", gate() in ("0", "N"),
                     gate())
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
