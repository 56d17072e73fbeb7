#!/usr/bin/env python3
"""Specification: secrets stay root-only, the API is reachable from loopback only, and no secret
material ever leaves through logs, reports or the API.

The whole product runs (agent in bpf mode on the host, the daemon polling it). Asserted:
  1. key material on disk is root-only: the channel key made by `synwarden-agent genkey` and the
     firewall's copy are regular files of mode 0600 owned by root; the agent's pinned state
     directory (which holds its cookie keys) is 0700 and the key map inside it has no group or
     other access;
  2. the daemon refuses a channel key file that others can read, that another user owns, or
     that is a symbolic link, with a message naming the config key, the file and the fix, and
     exits without attaching XDP to its interface (run in a scratch namespace, so the running
     firewall is not disturbed);
  3. the API listens on 127.0.0.1 only (every listening socket of the daemon, per `ss` in the
     firewall namespace), a client on the LAN cannot connect to it, and a configuration that
     asks for a non-loopback API address (192.0.2.3, 0.0.0.0, ::) is refused naming the key;
  4. no secret material -- the agent's cookie and timestamp keys (read from its pinned map, all
     generations) and the channel key -- appears in the daemon's log, the agent's log, the
     daemon's stats report, the API's /status, /hosts and /metrics answers or
     `synwarden-agent stats`, after connections, a reload and a key-state change were logged.
The agent's own refusal of a readable key file is tested in agent_e2e_test.cpp.
"""
import json
import os
import shutil
import signal
import stat
import subprocess
import sys

import sw_control as C
import sw_hardening as H
from sw_e2e import API_PORT, FIREWALL_V4
from sw_harness import Checks
from sw_topology import IPV4, IPV6, Topology, run


def root_only_file(path, mode=0o600):
    st = os.lstat(path)
    return stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == mode and st.st_uid == 0, \
        f"{path}: mode {oct(stat.S_IMODE(st.st_mode))} uid {st.st_uid}"


def refused_start(topo, synwarden, key_file, label):
    """Starts a daemon whose only host's agent key is `key_file`, in a scratch namespace with a
    veth e0: (exit status, stderr, e0 still without XDP)."""
    ns = f"{topo.ns['firewall']}x"
    run(["ip", "netns", "add", ns])
    try:
        run(["ip", "-n", ns, "link", "add", "e0", "type", "veth", "peer", "name", "e1"])
        run(["ip", "-n", ns, "link", "set", "e0", "up"])
        config = os.path.join(topo.workdir, f"refused-{label}.json")
        with open(config, "w") as f:
            json.dump({"interface": "e0",
                       "bpffs_pin_dir": os.path.join(topo.bpffs, f"refused-{label}"),
                       "api": {"port": API_PORT + 1},
                       "protected_hosts": [{
                           "address": "203.0.113.9", "mac": "02:00:5e:00:53:09", "ports": [80],
                           "agent": {"address": "203.0.113.9:7070", "key_file": key_file}}]}, f)
        result = subprocess.run(["ip", "netns", "exec", ns, synwarden, "run", "--config", config],
                                capture_output=True, text=True, timeout=30)
        link = json.loads(run(["ip", "-n", ns, "-j", "-d", "link", "show", "e0"]).stdout)[0]
        return result.returncode, result.stderr, "xdp" not in link
    finally:
        run(["ip", "netns", "del", ns], check=False)


def check_config(synwarden, topo, api_address):
    config = os.path.join(topo.workdir, "api-check.json")
    with open(config, "w") as f:
        json.dump({"interface": "e0", "api": {"address": api_address},
                   "protected_hosts": [{"address": "203.0.113.9", "mac": "02:00:5e:00:53:09",
                                        "secrets_file": "/nonexistent"}]}, f)
    return subprocess.run([synwarden, "check-config", "--syntax-only", "--config", config],
                          capture_output=True,
                          text=True, timeout=30)


def main():
    ap = H.argument_parser()
    args = ap.parse_args()
    checks = Checks()
    print("== hardening: root-only secrets, loopback-only API, no secrets in logs ==")
    with Topology(args.bpf_dir, firewall_queues=1) as topo:
        scenario = H.HardeningScenario(topo, args.synwarden, args.agent, args.synflood)
        try:
            scenario.start()
            with open(scenario.agent_key, "rb") as f:
                channel_key = f.read()

            # 1. Files.
            files = [root_only_file(scenario.agent_key), root_only_file(scenario.firewall_key)]
            pin_dir = scenario.agent_pin_dir()
            pin_mode = stat.S_IMODE(os.stat(pin_dir).st_mode)
            state_mode = stat.S_IMODE(os.stat(os.path.join(pin_dir, "sw_agent_state_v1")).st_mode)

            # 2. The daemon refuses unsafe key files.
            readable = os.path.join(topo.workdir, "readable.key")
            shutil.copyfile(scenario.firewall_key, readable)
            os.chmod(readable, 0o644)
            foreign = os.path.join(topo.workdir, "foreign.key")
            shutil.copyfile(scenario.firewall_key, foreign)
            os.chmod(foreign, 0o600)
            os.chown(foreign, 65534, 65534)
            link = os.path.join(topo.workdir, "link.key")
            os.symlink(scenario.firewall_key, link)
            refusals = {label: (path, *refused_start(topo, args.synwarden, path, label))
                        for label, path in (("readable", readable), ("foreign", foreign),
                                            ("symlink", link))}

            # 3. The API.
            listening = topo.sh("firewall", "ss", "-Hltnp").stdout
            from_lan = subprocess.run(
                topo.cmd("client", "curl", "-sS", "-m", "3", f"http://{FIREWALL_V4}:{API_PORT}/status"),
                capture_output=True, text=True)
            api_refused = {a: check_config(args.synwarden, topo, a)
                           for a in (FIREWALL_V4, "0.0.0.0", "::")}
            api_loopback_ok = check_config(args.synwarden, topo, "127.0.0.1")

            # 4. Activity that logs, then everything the product printed or served.
            legit = [H.banner_probe(topo, IPV4["host"], 3.0), H.banner_probe(topo, IPV6["host"], 3.0)]
            scenario.daemon.proc.send_signal(signal.SIGHUP)
            C.wait_until("the SIGHUP reload", lambda: "reload (SIGHUP)" in scenario.daemon.log())
            # A hang-up must not kill the agent (its default action would, and systemd would
            # count that as a clean exit): it logs its counters and keeps serving.
            scenario.agent.send_signal(signal.SIGHUP)
            C.wait_until("the agent's SIGHUP line", lambda: "SIGHUP:" in scenario.agent_log())
            agent_alive_after_hup = scenario.agent.poll() is None
            outputs = {
                "stats report": json.dumps(scenario.daemon.stats()),
                "/status": C.http(topo, "GET", "/status")[1],
                "/hosts": C.http(topo, "GET", "/hosts")[1],
                "/metrics": scenario.metrics(),
                "agent stats": topo.sh("host", args.agent, "stats", "--config",
                                       scenario.agent_config).stdout,
            }
            keys = H.agent_key_state(pin_dir) + [channel_key]
            scenario.stop()
        finally:
            if scenario.daemon:
                scenario.daemon.kill()
                outputs_log = {"daemon log": scenario.daemon.log()}
                print("daemon log:\n" + outputs_log["daemon log"])
            outputs_log["agent log"] = scenario.agent_log()
            print("agent log:\n" + outputs_log["agent log"])

    checks.check("the agent survives SIGHUP (logs its counters, keeps serving)",
                 agent_alive_after_hup)
    for ok, detail in files:
        checks.check("a channel key file is a regular root-owned file of mode 0600", ok, detail)
    checks.check("the agent's pinned state directory is 0700", pin_mode == 0o700, oct(pin_mode))
    checks.check("the agent's pinned key map has no group/other access", state_mode & 0o077 == 0,
                 oct(state_mode))
    hints = {"readable": ("mode 0644", "chmod 600"), "foreign": ("owned by uid 65534", "chown"),
             "symlink": ("symbolic link", "real file")}
    for label, (path, status, stderr, unattached) in refusals.items():
        want = hints[label]
        checks.check(f"the daemon refuses a {label} channel key file, naming the key, the file "
                     f"and the fix, and exits without attaching XDP to the interface",
                     status != 0 and all(w in stderr for w in want) and path in stderr
                     and "protected_hosts[0].agent.key_file" in stderr and unattached,
                     f"status {status}: {stderr.strip()[-400:]}")
    sockets = [line.split()[3] for line in listening.splitlines() if "synwarden" in line]
    checks.check("every listening socket of the daemon is on 127.0.0.1",
                 sockets and all(s.startswith("127.0.0.1:") for s in sockets), str(sockets))
    checks.check("the API does not answer from the LAN", from_lan.returncode != 0,
                 f"curl exit {from_lan.returncode}: {from_lan.stdout[:100]}")
    for address, result in api_refused.items():
        checks.check(f"a config asking for the API on {address} is refused, naming the key",
                     result.returncode != 0 and "api.address" in result.stderr
                     and "loopback" in result.stderr, result.stderr.strip())
    checks.check("the same config with 127.0.0.1 is accepted (the refusals are about the address)",
                 api_loopback_ok.returncode == 0, api_loopback_ok.stderr.strip())
    checks.check("connections completed while the logs were collected",
                 all(r["ok"] for r in legit), str(legit))
    texts = {**outputs_log, **outputs}
    leaks = H.leaked(texts, keys)
    checks.check(f"no secret material ({len(keys) - 1} agent keys, the channel key) in "
                 f"{', '.join(texts)}", len(keys) >= 6 and not leaks, str(leaks[:5]))
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
