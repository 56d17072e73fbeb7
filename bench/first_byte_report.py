"""Renders test_handshake.py's --json-out as the "first-byte" section of bench/RESULTS.md."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results_md import loadavg, replace_section  # noqa: E402


def main():
    data = json.load(open(sys.argv[1]))["first_data"]
    rows = ["| path | connections | ok | client retransmissions | first byte p50 ms | p99 ms | max ms |",
            "|---|---|---|---|---|---|---|"]
    for name, r in data.items():
        fb = r["first_byte_ms"]
        rows.append(f"| {name} | {r['total']} | {r['ok']} | {r['retransmitted']} | "
                    f"{fb['p50']:.2f} | {fb['p99']:.2f} | {fb['max']:.2f} |")
    body = ("## First-byte latency: through the firewall vs protection off\n\n"
            "`bench/first_byte.sh` (tests/integration/test_handshake.py): HTTP/1.0 clients send "
            "their request right after connect() (8 at a time), agent in bpf mode, one queue; "
            "\"protected\" = cookie handshake by the worker, \"pass mode\" = the host's own "
            "handshake, same run. First byte = connect() start to the first response byte. "
            f"Load average: {loadavg()}.\n\n" + "\n".join(rows) + "\n")
    replace_section(sys.argv[2], "first-byte", body)


if __name__ == "__main__":
    main()
