#!/usr/bin/env python3
"""End-to-end contract of `synwardenctl cookie synack|check` (the inspection CLI).

Usage: cookie_cli_test.py PATH/TO/synwardenctl PATH/TO/tests/unit/data
Each check states the behaviour it pins down; the script exits non-zero on the first failure.
"""
import json
import subprocess
import sys

CTL, DATA = sys.argv[1], sys.argv[2]
PER_CONN = f"{DATA}/secrets_per_connection.json"
PER_HOST = f"{DATA}/secrets_per_host.json"
V4 = ["--src", "198.51.100.23:40000", "--dst", "192.0.2.10:443"]
V6 = ["--src", "[2001:db8::23]:40000", "--dst", "[2001:db8::10]:443"]
FULL_SYN = ["--mss", "1460", "--wscale", "9", "--sack", "--tsval", "4242", "--ecn"]


def run(*args, expect_ok=True):
    p = subprocess.run([CTL, "cookie", *args], capture_output=True, text=True, timeout=30)
    if expect_ok and p.returncode != 0:
        sys.exit(f"FAIL: synwardenctl cookie {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p


def out(*args):
    return json.loads(run(*args).stdout)


def check(cond, what):
    if not cond:
        sys.exit(f"FAIL: {what}")
    print(f"ok: {what}")


def synack(secrets, ends, *extra):
    return out("synack", "--secrets", secrets, *ends, "--isn", "1000000", *extra)


def ack_check(secrets, ends, sa, *extra, tsecr=True):
    args = ["check", "--secrets", secrets, *ends, "--seq", "1000001", "--ack", str(sa["seq"] + 1)]
    if tsecr and sa["tsval"] is not None:
        args += ["--tsecr", str(sa["tsval"])]
    return out(*args, *extra)


for secrets in (PER_CONN, PER_HOST):
    for ends, family, mss in ((V4, "ipv4", 1460), (V6, "ipv6", 1440)):
        sa = synack(secrets, ends, *FULL_SYN)
        tag = f"{family} {secrets.rsplit('/', 1)[1]}"
        check(sa["family"] == family and sa["ack"] == 1000001, f"{tag}: ack is ISN + 1")
        check(sa["mss"] == mss, f"{tag}: SYN-ACK advertises the host's own MSS")
        check(sa["flags"] == ["SYN", "ACK", "ECE"], f"{tag}: ECN accepted with timestamps")
        check(sa["tsecr"] == 4242, f"{tag}: TSecr echoes the client's TSval")
        check([o["kind"] for o in sa["options"]]
              == ["mss", "sack_permitted", "timestamp", "nop", "wscale"],
              f"{tag}: options in Linux wire order")
        check(sa["options"][2]["tsval"] == sa["tsval"], f"{tag}: option TSval matches")
        check(sa["options"][4]["value"] == 7, f"{tag}: host's rcv_wscale is offered")
        ts = (sa["tsval"] - sa["ts_off"]) % 2**32
        check(ts & 63 == (9 | 16 | 32), f"{tag}: TSval low bits carry wscale 9, SACK, ECN")
        check(ts <= sa["host_ms"], f"{tag}: TSval not ahead of the host clock")
        v = ack_check(secrets, ends, sa)
        check(v == {**v, "valid": True, "mss": 1460 if family == "ipv4" else 1440,
                    "wscale": 9, "sack": True, "ecn": True},
              f"{tag}: returning ACK decodes the SYN's options: {v}")
        check(synack(secrets, ends, *FULL_SYN) == sa, f"{tag}: output is deterministic")

# Count window through the CLI: one minute later still valid, three minutes later not.
sa = synack(PER_CONN, V4, *FULL_SYN)
mono = json.load(open(PER_CONN))["mono_ms"]
check(ack_check(PER_CONN, V4, sa, "--now-mono-ms", str(mono + 60_000))["valid"],
      "cookie still valid one minute later")
late = ack_check(PER_CONN, V4, sa, "--now-mono-ms", str(mono + 180_000))
check(not late["valid"] and late["reason"] == "cookie_out_of_window",
      "cookie rejected three minutes later as out of window")

# No timestamps: MSS only, nothing encoded beyond the MSS index.
sa = synack(PER_CONN, V4, "--mss", "1300", "--wscale", "7", "--sack")
check([o["kind"] for o in sa["options"]] == ["mss"] and sa["tsval"] is None,
      "without timestamps the cookie SYN-ACK carries only MSS")
check(sa["mss_index"] == 1 and sa["mss_encoded"] == 1300, "MSS 1300 encodes index 1")
v = ack_check(PER_CONN, V4, sa)
check(v["valid"] and v["mss"] == 1300 and v["wscale"] is None and not v["sack"],
      "ACK without timestamps: valid, MSS from the cookie, no options")

# Timestamps without SACK: the kernel pads with NOP NOP before TS.
sa = synack(PER_CONN, V4, "--mss", "1460", "--tsval", "1")
check([o["kind"] for o in sa["options"]] == ["mss", "nop", "nop", "timestamp"],
      "TS without SACK or WS is NOP NOP TS after MSS")

# Exact clock: the host's own clock, to compare with a captured SYN-ACK.
sa = synack(PER_CONN, V4, *FULL_SYN, "--exact-clock")
check(sa["host_ms"] == mono, "--exact-clock uses the sample's mono_ms as is")

# A wrong ACK is refused.
sa = synack(PER_CONN, V4, *FULL_SYN)
bad = out("check", "--secrets", PER_CONN, *V4, "--seq", "1000001", "--ack", str(sa["seq"] + 2**20))
check(not bad["valid"] and bad["mss"] is None, "a foreign ACK number is not a valid cookie")

# Usage errors name the culprit.
p = run("synack", "--secrets", PER_CONN, "--src", "300.1.1.1:5", "--dst", "192.0.2.10:443",
        "--isn", "1", expect_ok=False)
check(p.returncode != 0 and "--src" in p.stderr, "a bad address is rejected naming --src")
p = run("synack", "--secrets", f"{DATA}/nope.json", *V4, "--isn", "1", expect_ok=False)
check(p.returncode == 1 and "nope.json" in p.stderr, "a missing secrets file is named")
p = run("synack", "--secrets", PER_CONN, "--src", "198.51.100.23:1", "--dst", "[2001:db8::1]:2",
        "--isn", "1", expect_ok=False)
check(p.returncode != 0 and "IPv4" in p.stderr, "mixed address families are rejected")
p = run("synack", "--secrets", PER_CONN, *V4, "--isn", "010x", expect_ok=False)
check(p.returncode != 0 and "--isn" in p.stderr, "a malformed number is rejected naming --isn")
print("all synwardenctl cookie checks passed")
