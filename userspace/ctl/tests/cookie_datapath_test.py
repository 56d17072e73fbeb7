#!/usr/bin/env python3
"""`synwardenctl cookie synack|check --datapath xdp` prints exactly what the default (the C++
engine of the AF_XDP workers) prints, for every argument combination below.

Usage (root: the XDP program is loaded and run with BPF_PROG_TEST_RUN):
    cookie_datapath_test.py PATH/TO/synwardenctl PATH/TO/tests/unit/data

The combinations cover both ts_off variants, IPv4 and IPv6, sysctls that switch timestamps, SACK,
window scaling and ECN off (or timestamps to 2), every SYN option subset with MSS values on each
side of the table entries, window scales beyond 14, the clock (safety margins or exact, instants
before the sample, near a minute boundary, much later), and ACKs of every outcome: valid with
each MSS index, TSecr naming a disabled option, forged, one count too old. Each SYN-ACK's own
ACK is checked, so the XDP program's cookies are judged by both datapaths too.

Every `--datapath xdp` run loads the program afresh (the verifier's work, about 0.2 s of CPU), so
the SYN cases run on as many worker threads as there are CPUs; each case's own runs stay in order.
"""
import json
import os
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

CTL, DATA = sys.argv[1], sys.argv[2]
V4 = ["--src", "198.51.100.23:40000", "--dst", "192.0.2.10:443"]
V6 = ["--src", "[2001:db8::23]:1", "--dst", "[2001:db8::10]:65535"]
calls = 0
calls_lock = threading.Lock()


class Failure(Exception):
    """A difference or an error; main() prints it as the test's FAIL line."""


def run(args, datapath, expect_ok=True):
    global calls
    with calls_lock:
        calls += 1
    cmd = [CTL, "cookie", *args] + (["--datapath", datapath] if datapath else [])
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if expect_ok and p.returncode != 0:
        raise Failure(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr}")
    return p


def both(args):
    """The JSON of both datapaths; fails on the first difference."""
    engine = run(args, None).stdout
    xdp = run(args, "xdp").stdout
    if json.loads(engine) != json.loads(xdp) or engine != xdp:
        raise Failure(f"datapaths differ for {' '.join(args)}\n  afxdp: {engine}  xdp:   {xdp}")
    return json.loads(engine)


def secrets_files(tmp):
    """The two sample hosts, and variants with other sysctls, HZ, MSS and window scale."""
    files = {n: f"{DATA}/secrets_{n}.json" for n in ("per_connection", "per_host")}
    base = json.load(open(files["per_connection"]))
    variants = {
        "no_sack_no_ws": {"tcp_sack": 0, "tcp_window_scaling": 0, "tcp_ecn": 1},
        "no_ts": {"tcp_timestamps": 0},
        "ts2_hz250": {"tcp_timestamps": 2, "hz": 250, "jiffies": 1075000123, "mss": 1400,
                      "mss6": 8940, "rcv_wscale": 14, "tcp_ecn": 0},
    }
    for name, change in variants.items():
        path = os.path.join(tmp, f"{name}.json")
        json.dump({**base, **change}, open(path, "w"))
        os.chmod(path, 0o600)
        files[name] = path
    return files


SYN_OPTIONS = [
    [],
    ["--mss", "0"],
    ["--mss", "535"], ["--mss", "1299"], ["--mss", "1300"], ["--mss", "1439"],
    ["--mss", "1440"], ["--mss", "1459"], ["--mss", "1460"], ["--mss", "8940"],
    ["--mss", "65535"],
    ["--sack"], ["--wscale", "9"], ["--ecn"],
    ["--tsval", "0"], ["--tsval", "4294967295", "--sack"],
    ["--mss", "1460", "--wscale", "14", "--sack", "--tsval", "4242", "--ecn"],
    ["--mss", "1420", "--wscale", "15", "--tsval", "7"],
    ["--mss", "9000", "--wscale", "255", "--sack", "--tsval", "99", "--ecn"],
    ["--mss", "1300", "--wscale", "0", "--tsval", "1", "--ecn"],
]


def ack_cases(sa, clock, mono):
    """(ack number, extra arguments) of every kind of returning ACK for SYN-ACK `sa`."""
    good = sa["seq"] + 1
    base = int(clock[clock.index("--now-mono-ms") + 1]) if "--now-mono-ms" in clock else mono
    exact = [a for a in clock if a == "--exact-clock"]
    cases = [(good + 3, clock), (good + 2**20, clock)]  # forged
    cases += [(good - k, clock) for k in range(1, 4)]  # each MSS index below the SYN's
    # Three minutes later the same cookie is one count too old.
    cases.append((good, [*exact, "--now-mono-ms", str(base + 180_000)]))
    return cases


def one_case(common, clock, isn, syn, n, mono):
    """A SYN-ACK on both datapaths, then its own ACK (and with its TSecr, or one naming other
    options, when it has timestamps) and two other kinds; returns the ACK verdicts' reasons."""
    sa = both(["synack", *common, *clock, "--isn", str(isn), *syn])
    checks = [(sa["seq"] + 1, clock)]
    if sa["tsval"] is not None:
        checks.append((sa["seq"] + 1, [*clock, "--tsecr", str(sa["tsval"])]))
        # An echo naming SACK and window scale 3, whatever the SYN said.
        named = ((sa["tsval"] - sa["ts_off"]) & ~63 | 16 | 3) + sa["ts_off"]
        checks.append((sa["seq"] + 1, [*clock, "--tsecr", str(named % 2**32)]))
    others = ack_cases(sa, clock, mono)
    checks += [others[(2 * n + j) % len(others)] for j in range(2)]
    return [both(["check", *common, "--seq", str(isn + 1), "--ack", str(ack % 2**32),
                  *extra])["reason"] for ack, extra in checks]


def main():
    outcomes = {}
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        files = secrets_files(tmp)
        cases = []
        for secrets in files.values():
            mono = json.load(open(secrets))["mono_ms"]
            clocks = [[], ["--exact-clock"], ["--now-mono-ms", str(mono + 59_999)],
                      ["--now-mono-ms", str(mono - 5_000)],
                      ["--now-mono-ms", str(mono + 10**9), "--exact-clock"]]
            for ends in (V4, V6):
                # 6 SYN option sets per host and family, rotating: each set runs 3 times.
                for _ in range(6):
                    syn, clock, isn = SYN_OPTIONS[n % len(SYN_OPTIONS)], clocks[n % 5], 1000 + 7919 * n
                    n += 1
                    cases.append((["--secrets", secrets, *ends], clock, isn, syn, n, mono))
        pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1)
        try:
            for reasons in pool.map(lambda c: one_case(*c), cases):
                for reason in reasons:
                    outcomes[reason] = outcomes.get(reason, 0) + 1
        except Failure as e:
            pool.shutdown(cancel_futures=True)  # the cases not started yet are dropped
            sys.exit(f"FAIL: {e}")
        pool.shutdown()

        # Without root the xdp datapath refuses clearly (exit 1) instead of failing oddly.
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", CTL,
                            "cookie", "synack", "--secrets", files["no_ts"], *V4, "--isn", "1",
                            "--datapath", "xdp"], capture_output=True, text=True, timeout=60)
        if p.returncode != 1 or "needs root" not in p.stderr:
            sys.exit(f"FAIL: non-root --datapath xdp: exit {p.returncode}, stderr {p.stderr!r}")
        print("ok: without root, --datapath xdp exits 1 saying it needs root")

    # The comparison proves little unless every kind of verdict occurred.
    print(f"verdicts compared: {outcomes}; synwardenctl runs: {calls}")
    for reason in ("accepted", "cookie_bad_hash", "cookie_out_of_window", "option_disabled"):
        if outcomes.get(reason, 0) == 0:
            sys.exit(f"FAIL: no ACK came out {reason}; the cases no longer cover it")
    print("all synwardenctl cookie --datapath xdp comparisons passed")


main()
