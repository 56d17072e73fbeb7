#!/usr/bin/python3
"""The network half of packaging/smoke-test.sh: the INSTALLED binaries, run with exactly the
capabilities their systemd units grant, carry one real TCP connection.

Topology (tests/integration/sw_topology.py, reused as is): client, attacker (idle here), firewall
and protected host on one bridge; the client's neighbour entry for the host points at the
firewall. Then:

  host      synwarden-agent (bpf mode: tc program, keys pinned in a bpffs) with the channel key
            the package's postinst generated (/etc/synwarden/agent.key), and an HTTP service
  firewall  synwarden polling that agent with the operator's copy of the key in
            /etc/synwarden/keys/, protection on
  client    one curl to the host

Every daemon runs under `setpriv` with the unit's CapabilityBoundingSet (parsed from the installed
unit file, so the test follows the unit), no-new-privs, all other capabilities dropped, the
unit's LimitMEMLOCK, and ProtectSystem=strict's read-only root with its ReadWritePaths (a private
mount namespace). That stands in for systemd, which is not PID 1 in CI's container.

Pass criteria (each printed as PASS/FAIL): the agent serves secrets; the daemon reports its
host's secrets fresh; curl returns the exact body; the daemon's stats (read with the installed
synwardenctl) count exactly one cookie SYN-ACK sent and one valid cookie ACK for the host, so the
connection was answered by the firewall and completed by the host's kernel from the cookie ACK
(the agent's tc program counts the assignment too); a restarted daemon adopts its pinned
dataplane (the restart path systemd's Restart=on-failure takes) and still serves; an API change
is saved to a config file in the unit's ReadWritePaths under the read-only root.
Usage: smoke_netns.py --tests-dir DIR --bpf-dir DIR --units DIR  (binaries and keys default to
the installed paths; options exist to try a build tree's binaries and candidate units)
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

SBIN_FIREWALL = "/usr/sbin/synwarden"
SBIN_AGENT = "/usr/sbin/synwarden-agent"
CTL = "/usr/bin/synwardenctl"
AGENT_KEY = "/etc/synwarden/agent.key"
KEYS_DIR = "/etc/synwarden/keys"
AGENT_PORT = 7070
API_PORT = 9477
FIREWALL_V4 = "192.0.2.3"


def unit_settings(path):
    """The settings of a unit file this test reproduces: {key: value} of the [Service] lines."""
    settings = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if "=" in line and not line.startswith(("#", ";", "[")):
                key, value = line.split("=", 1)
                settings[key] = value
    if not settings.get("CapabilityBoundingSet"):
        raise RuntimeError(f"{path} has no CapabilityBoundingSet= line")
    return settings


def memlock_settable(limit):
    """Whether this machine lets root raise RLIMIT_MEMLOCK to `limit` (a container without
    CAP_SYS_RESOURCE in its bounding set cannot go above its hard limit)."""
    return subprocess.run(["prlimit", f"--memlock={limit}", "true"],
                          capture_output=True).returncode == 0


def confined(binary, unit, workdir):
    """A wrapper script that runs `binary` as systemd would under `unit`, as far as this machine
    allows without systemd as PID 1:
    - root (the units set no User=) with bounding, inheritable and ambient sets = the unit's
      CapabilityBoundingSet and nothing else, no-new-privs (setpriv);
    - the unit's LimitMEMLOCK where this machine lets it be set (prlimit);
    - ProtectSystem=strict: a private mount namespace whose root file system is read-only except
      the unit's ReadWritePaths (bind mounts), /proc and /sys (other mounts, such as the bpffs,
      keep their own flags, as under systemd).
    Returns (wrapper, capabilities, memlock note)."""
    unit_cfg = unit_settings(unit)
    caps = unit_cfg["CapabilityBoundingSet"].split()
    capset = ",".join("+" + c.lower().removeprefix("cap_") for c in caps)
    memlock = unit_cfg.get("LimitMEMLOCK")
    limit = "unlimited" if memlock == "infinity" else memlock
    prefix, note = "", f"memlock {limit} (the unit's LimitMEMLOCK)"
    if limit and memlock_settable(limit):
        prefix = f"prlimit --memlock={limit} -- "
    elif limit:
        hard = subprocess.run(["sh", "-c", "ulimit -Hl"], capture_output=True,
                              text=True).stdout.strip()
        note = (f"memlock stays at this machine's hard limit {hard} KiB: raising it to the "
                f"unit's {memlock} needs CAP_SYS_RESOURCE, which this container lacks")
    run = (f"{prefix}setpriv --no-new-privs --bounding-set=-all,{capset} "
           f"--inh-caps=-all,{capset} --ambient-caps=-all,{capset} -- {binary} \"$@\"")
    if unit_cfg.get("ProtectSystem") == "strict":
        binds = "".join(f"mount --bind {p} {p} && "
                        for p in unit_cfg.get("ReadWritePaths", "").split())
        run = ("unshare --mount sh -c 'mount --make-rprivate / && " + binds +
               "mount -o remount,bind,ro / && "
               "if [ -w /usr ]; then echo ProtectSystem emulation failed: /usr is writable >&2; "
               f"exit 97; fi; exec {run}' sh \"$@\"")
    wrapper = os.path.join(workdir, "confined-" + os.path.basename(binary))
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nexec {run}\n")
    os.chmod(wrapper, 0o755)
    return wrapper, caps, note


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tests-dir", required=True, help="tests/integration of the source tree")
    ap.add_argument("--bpf-dir", required=True, help="xdp_pass.bpf.o, vlan_push/pop.bpf.o")
    ap.add_argument("--units", required=True, help="where the package installed the units")
    ap.add_argument("--firewall", default=SBIN_FIREWALL)
    ap.add_argument("--agent", default=SBIN_AGENT)
    ap.add_argument("--ctl", default=CTL)
    ap.add_argument("--agent-key", default=AGENT_KEY, help="the key the agent's postinst made")
    ap.add_argument("--keys-dir", default=KEYS_DIR, help="the firewall's key directory")
    ap.add_argument("--config-dir", default="/etc/synwarden",
                    help="the firewall unit's writable config directory (ReadWritePaths)")
    args = ap.parse_args()
    sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
    sys.path.insert(0, args.tests_dir)
    import sw_daemon as D
    from sw_harness import Checks, PYTHON
    from sw_servers import HTTP_PORT, http_body
    from sw_topology import IPV4, MACS, Topology

    checks = Checks()
    with Topology(args.bpf_dir) as topo:
        firewall_bin, fw_caps, fw_memlock = confined(
            args.firewall, os.path.join(args.units, "synwarden.service"), topo.workdir)
        agent_bin, agent_caps, _ = confined(
            args.agent, os.path.join(args.units, "synwarden-agent.service"), topo.workdir)
        print(f"firewall capabilities: {' '.join(fw_caps)}")
        print(f"agent capabilities:    {' '.join(agent_caps)}")
        print(f"firewall {fw_memlock}")
        # Under the unit's LimitMEMLOCK=infinity the default UMEM (4096 frames of 4 KiB per
        # queue) is locked without CAP_IPC_LOCK; under a container's small hard limit it is
        # made to fit instead (xdp_umem_account_pages(): CAP_IPC_LOCK or RLIMIT_MEMLOCK).
        limits = {} if fw_memlock.startswith("memlock unlimited") else \
            {"frames_per_queue": 1024, "ring_size": 512}
        topo.ip("firewall", "addr", "add", f"{FIREWALL_V4}/24", "dev", "e0")

        # The operator's step: the firewall gets a copy of the host's key, mode 0600.
        fw_key = os.path.join(args.keys_dir, f"{IPV4['host']}.key")
        shutil.copyfile(args.agent_key, fw_key)
        os.chmod(fw_key, 0o600)

        agent_cfg = os.path.join(topo.workdir, "agent.json")
        with open(agent_cfg, "w") as f:
            json.dump({"listen": f"{IPV4['host']}:{AGENT_PORT}", "key_file": args.agent_key,
                       "mode": "bpf", "interfaces": ["e0"], "ports": [HTTP_PORT],
                       "pin_dir": os.path.join(topo.bpffs, "agent")}, f)
        agent_log = os.path.join(topo.workdir, "agent.log")
        with open(agent_log, "w") as log:
            agent = topo.popen("host", agent_bin, "run", "--config", agent_cfg, stdout=log,
                               stderr=subprocess.STDOUT)
        read = lambda p: open(p).read()
        deadline = time.monotonic() + 15
        while "serving secrets" not in read(agent_log) and agent.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        checks.check("installed synwarden-agent serves secrets (bpf mode, unit's capabilities)",
                     "serving secrets" in read(agent_log), read(agent_log)[-600:])
        if agent.poll() is not None:
            return checks.summary()

        servers = topo.popen("host", PYTHON, os.path.join(args.tests_dir, "sw_servers.py"),
                             "--tcp-info-out", os.path.join(topo.workdir, "tcpinfo.jsonl"),
                             stdout=subprocess.PIPE, text=True)
        if servers.stdout.readline().strip() != "ready":
            raise RuntimeError("the host's HTTP service did not start")

        config = {
            "interface": "e0",
            "bpffs_pin_dir": os.path.join(topo.bpffs, "synwarden"),
            "keep_dataplane_on_exit": True,
            "api": {"port": API_PORT, "persist_changes": False},
            "limits": limits,
            "protected_hosts": [{
                "address": IPV4["host"], "mac": MACS["host"], "ports": [HTTP_PORT],
                "protection": True,
                "agent": {"address": f"{IPV4['host']}:{AGENT_PORT}", "key_file": fw_key,
                          "poll_interval_ms": 1000, "fail": "closed"}}],
        }
        daemon = D.Daemon(topo, firewall_bin, config)
        try:
            daemon.start(timeout=20)
            checks.check("installed synwarden runs (XDP + AF_XDP, unit's capabilities)", True)
        except RuntimeError as e:
            checks.check("installed synwarden runs (XDP + AF_XDP, unit's capabilities)", False,
                         str(e)[-1500:])
            return checks.summary()

        def ctl(*cmd):
            out = topo.sh("firewall", args.ctl, *cmd, "--api", f"http://127.0.0.1:{API_PORT}",
                          "--json").stdout
            return json.loads(out)

        def host_stats():
            stats = ctl("stats")
            for h in stats.get("hosts", []):
                if h.get("address") == IPV4["host"]:
                    return h
            raise RuntimeError(f"no host {IPV4['host']} in stats: {json.dumps(stats)[:800]}")

        def host_state():
            return host_stats().get("secrets_state")

        deadline = time.monotonic() + 10
        while host_state() != "fresh" and time.monotonic() < deadline:
            time.sleep(0.2)
        checks.check("daemon holds fresh secrets from the agent (synwardenctl stats)",
                     host_state() == "fresh", json.dumps(host_stats())[:800])

        def host_counters():
            return host_stats()["counters"]

        def connect_once(label):
            before = host_counters()
            out = topo.sh("client", "curl", "-sS", "--max-time", "10", "-o", "-", "-w",
                          "\n%{http_code}", f"http://{IPV4['host']}:{HTTP_PORT}/obj/64",
                          check=False)
            body, _, code = out.stdout.rpartition("\n")
            checks.check(f"{label}: curl through the firewall gets HTTP 200 and the exact body",
                         code == "200" and body.encode() == http_body(64),
                         f"code {code!r}, {len(body)} bytes, stderr {out.stderr.strip()!r}")
            after = host_counters()
            diff = {k: after[k] - before.get(k, 0) for k in after if isinstance(after[k], int)}
            # The client's first data segment carries the same cookie as its ACK; while the ACK
            # is still leaving (the flow is learnt once it has left) that segment reaches the
            # worker too and is validated as a cookie as well: 1 or 2 valid, for one connection.
            checks.check(f"{label}: firewall sent 1 cookie SYN-ACK and validated the "
                         f"connection's cookie ACK (and maybe its first data segment)",
                         diff.get("synack") == 1 and diff.get("ack_valid") in (1, 2),
                         json.dumps(diff))
            return diff

        connect_once("first daemon")
        agent_stats = topo.sh("host", agent_bin, "stats", "--config", agent_cfg).stdout
        checks.check("agent's tc program handed the cookie ACK to the host's kernel",
                     any(line.split()[0] == "assigned" and int(line.split()[1]) >= 1
                         for line in agent_stats.splitlines() if len(line.split()) == 2),
                     agent_stats.strip().replace("\n", ", "))

        # Restart with the dataplane kept and pinned: the new daemon adopts it (the path
        # systemd's Restart=on-failure and a package upgrade's try-restart take).
        daemon.stop()
        prog = topo.xdp_attached()
        checks.check("keep_dataplane_on_exit leaves the XDP program attached", prog is not None)
        # This time from a config file in the unit's ReadWritePaths (/etc/synwarden) with API
        # changes saved to it: the save (tmp file + rename) must work under ProtectSystem=strict.
        config2 = dict(config, api={"port": API_PORT, "persist_changes": True})
        daemon2 = D.Daemon(topo, firewall_bin, config2, name="synwarden2")
        persist_path = os.path.join(args.config_dir, "smoke-synwarden.json")
        shutil.copyfile(daemon2.config_path, persist_path)
        daemon2.config_path = persist_path
        try:
            daemon2.start(timeout=20)
            checks.check("restarted synwarden adopts the kept dataplane (unit's capabilities)",
                         "adopt" in daemon2.log().lower(), daemon2.log()[-800:])
        except RuntimeError as e:
            checks.check("restarted synwarden adopts the kept dataplane (unit's capabilities)",
                         False, str(e)[-1500:])
            return checks.summary()
        deadline = time.monotonic() + 10
        while host_state() != "fresh" and time.monotonic() < deadline:
            time.sleep(0.2)
        connect_once("restarted daemon")
        out = topo.sh("firewall", args.ctl, "protect", "off", IPV4["host"], "--api",
                      f"http://127.0.0.1:{API_PORT}", "--json", check=False)
        with open(persist_path) as f:
            saved = json.load(f)["protected_hosts"][0].get("protection")
        checks.check(f"API change saved to {persist_path} under the unit's read-only root",
                     out.returncode == 0 and '"persisted": true' in out.stdout.replace(
                         '"persisted":true', '"persisted": true') and saved is False,
                     f"exit {out.returncode}: {out.stdout.strip()} {out.stderr.strip()}; "
                     f"file says protection={saved}")
        os.unlink(persist_path)

        # Leave nothing: the last daemon detaches (keep false is not reloadable; detach by hand
        # what keep left, as README.md tells operators), the agent removes its tc program.
        daemon2.stop()
        topo.ip("firewall", "link", "set", "dev", "e0", "xdp", "off")
        agent.terminate()
        agent.wait(timeout=10)
        checks.check("agent stops cleanly on SIGTERM", agent.returncode == 0,
                     read(agent_log)[-400:])
        servers.terminate()
        servers.wait(timeout=10)
        os.unlink(fw_key)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
