#!/usr/bin/env python3
"""Specification of synwarden-route-watch against a stand-in `synwardenctl health` (exit codes
from a script) and a stand-in vtysh (records its arguments): the first check applies its verdict,
one failed check withdraws (--withdraw-after 1), three good ones in a row announce again
(--announce-after 3), exit 2 (unreachable) counts as a failure, IPv6 prefixes go to their own
address family, a failing vtysh is retried, and bad options are refused with exit 64.

Usage: route_watch_test.py PATH/TO/synwarden-route-watch
"""
import os
import subprocess
import sys
import tempfile

WATCH = sys.argv[1]


def check(cond, what, detail=""):
    if not cond:
        sys.exit(f"FAIL: {what}\n{detail}")
    print(f"ok: {what}")


def run_watch(codes, vtysh_fails=0, prefixes=("192.0.2.10/32",)):
    """Runs the watcher until `codes` (health exit statuses, one per check) are used up;
    returns (vtysh calls as lists of -c commands, stderr)."""
    with tempfile.TemporaryDirectory() as d:
        seq, calls, fails = (os.path.join(d, n) for n in ("codes", "calls", "fails"))
        with open(seq, "w") as f:
            f.write("".join(f"{c}\n" for c in codes))
        with open(fails, "w") as f:
            f.write("x\n" * vtysh_fails)
        ctl = os.path.join(d, "ctl")
        with open(ctl, "w") as f:
            # Pops the first exit status; none left: stops the watcher (its parent), whose
            # previous check has been acted on by then.
            f.write(f"#!/bin/sh\n[ -s {seq} ] || {{ kill $PPID; exit 1; }}\n"
                    f"c=$(head -n1 {seq}); sed -i 1d {seq}; exit $c\n")
        vtysh = os.path.join(d, "vtysh")
        with open(vtysh, "w") as f:
            f.write(f"#!/bin/sh\nif [ -s {fails} ]; then sed -i 1d {fails}; echo 'bgpd is not "
                    f"running' >&2; exit 1; fi\nprintf '%s|' \"$@\" >> {calls}; echo >> {calls}\n")
        os.chmod(ctl, 0o755)
        os.chmod(vtysh, 0o755)
        args = [WATCH, "--asn", "64601", "--interval", "0.02", "--ctl", ctl, "--vtysh", vtysh]
        for p in prefixes:
            args += ["--prefix", p]
        proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
        err = proc.communicate(timeout=30)[1]
        out = open(calls).read().splitlines() if os.path.exists(calls) else []
        return [[c for c in line.split("|") if c and c != "-c"] for line in out], err


def verbs(calls):
    return [next(c for c in call if "network" in c) for call in calls]


calls, err = run_watch([0])
check(verbs(calls) == ["network 192.0.2.10/32"]
      and calls[0][:3] == ["configure terminal", "router bgp 64601", "address-family ipv4 unicast"],
      "a healthy first check announces under router bgp ASN, address-family ipv4", str(calls))
check("health exit 0: announced 192.0.2.10/32 (AS 64601)" in err, "the change is logged", err)

calls, _ = run_watch([1])
check(verbs(calls) == ["no network 192.0.2.10/32"], "an unhealthy first check withdraws", str(calls))

calls, _ = run_watch([0, 0, 2, 2, 0, 0, 1, 0, 0, 0, 0])
check(verbs(calls) == ["network 192.0.2.10/32", "no network 192.0.2.10/32",
                       "network 192.0.2.10/32"],
      "one failed check (exit 2: unreachable) withdraws; two good ones do not announce, a failure "
      "resets the count, the third good one in a row announces", str(calls))

calls, err = run_watch([0, 0, 0], vtysh_fails=2)
check(verbs(calls) == ["network 192.0.2.10/32"] and err.count("vtysh failed") == 2,
      "a failing vtysh is retried at the next check and logged", err)

calls, _ = run_watch([0], prefixes=("192.0.2.10/32", "2001:db8::10/128"))
check(calls and "address-family ipv6 unicast" in calls[0]
      and calls[0].index("network 2001:db8::10/128") > calls[0].index("address-family ipv6 unicast"),
      "an IPv6 prefix is announced in address-family ipv6 unicast", str(calls))

for bad in (["--prefix", "192.0.2.10/32"], ["--asn", "x", "--prefix", "p"], ["--asn", "1"],
            ["--asn", "1", "--prefix", "p", "--withdraw-after", "0"], ["--bogus"]):
    p = subprocess.run([WATCH, *bad], capture_output=True, text=True, timeout=10)
    check(p.returncode == 64 and "usage:" in p.stderr, f"{' '.join(bad)} is refused (exit 64)",
          p.stderr)
print("all route-watch checks passed")
