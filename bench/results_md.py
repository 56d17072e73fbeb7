"""bench/RESULTS.md is assembled from sections, each owned by one script and replaced in place
when that script runs again, so running one benchmark never erases another's last results."""
import os

PREAMBLE = """# synwarden benchmark results

Generated: do not edit by hand. `bench/run.sh` writes the end-to-end section
(bench/e2e_bench.py), `bench/micro.sh` the micro-benchmark section. Method and how to read the
numbers: bench/README.md. Compare ratios within one run, not absolute numbers across machines or
runs.
"""


def replace_section(path, name, body):
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = open(path).read() if os.path.exists(path) else PREAMBLE
    block = f"{begin}\n{body.rstrip()}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(text)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])
