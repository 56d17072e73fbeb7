"""bench/RESULTS.md's end-to-end section and its PNG plot, from one e2e_bench.py run."""
import os
import subprocess
import tempfile

from results_md import replace_section

NAMES = {"linux": "(a) Linux, tcp_syncookies=2", "synproxy": "(b) nft SYNPROXY",
         "synwarden": "(c) synwarden", "synwarden_xdp": "(c2) synwarden, XDP datapath",
         "synwarden_xdp_nohint": "(c2n) synwarden, XDP datapath, no flow hint",
         "xdp_tx": "(d) XDP_TX reflector"}


def _k(v):
    return "—" if v is None else f"{v / 1000:.0f} k"


def _ms(v):
    return "—" if v is None else f"{v:.1f}"


def _range(r):
    lo_hi = r.get("per_core_range")
    if not lo_hi or r["rounds"] < 2:
        return ""
    return f" ({lo_hi[0] / 1000:.0f}–{lo_hi[1] / 1000:.0f})"


def table(run):
    lines = ["| firewall | queues / CPUs | SYNs offered /s | SYN-ACKs delivered /s | firewall CPU "
             "(cores) | SYN-ACKs /s per firewall core | legit success | connect p50 / p99 (ms) "
             "| limited by |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in run["summary"]:
        legit = r["legit"]
        if legit:
            ok = f"{legit['success_pct']:.1f} % of {legit['attempts']}"
            lat = f"{_ms(legit['connect_ms_p50'])} / {_ms(legit['connect_ms_p99'])}"
        else:
            ok, lat = "n/a (forwards nothing)", "n/a"
        cpus = ",".join(str(c) for c in r["fw_cpus"])
        lines.append(
            f"| {NAMES.get(r['scenario'], r['scenario'])} | {r['queues']} / {cpus} | "
            f"{_k(r['offered_pps'])} | {_k(r['synack_pps'])} | {r['fw_cores']:.2f} "
            f"(NAPI {r['fw_cores_napi']:.2f}, daemon {r['fw_cores_proc']:.2f}) | "
            f"**{_k(r['synack_per_core'])}**{_range(r)} | {ok} | {lat} | {r['bound']} |")
    return "\n".join(lines)


def ratios(run):
    """Each synwarden datapath's SYN-ACKs per firewall core against each baseline, per width."""
    out = []
    by = {(r["scenario"], r["queues"]): r for r in run["summary"]}
    for queues in sorted({r["queues"] for r in run["summary"]}):
        for name in ("synwarden", "synwarden_xdp", "synwarden_xdp_nohint"):
            ours = by.get((name, queues))
            if not ours or not ours["synack_per_core"]:
                continue
            parts = []
            for other, goal in (("linux", "goal ≥ 3×"), ("synproxy", "goal ≥ 2×"),
                                ("xdp_tx", "goal ≥ 0.8×")):
                r = by.get((other, queues))
                if r and r["synack_per_core"]:
                    parts.append(f"{ours['synack_per_core'] / r['synack_per_core']:.2f}× "
                                 f"{NAMES[other]} ({goal})")
            out.append(f"- {queues} queue(s): {NAMES[name]}'s SYN-ACKs per firewall core = "
                       + "; ".join(parts))
    return "\n".join(out)


def plot(run, png_path):
    """Grouped bars: SYN-ACKs per firewall core and delivered, per scenario and width."""
    widths = sorted({r["queues"] for r in run["summary"]})
    names = [n for n in NAMES if any(r["scenario"] == n for r in run["summary"])]
    by = {(r["scenario"], r["queues"]): r for r in run["summary"]}
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data.txt")
        with open(data, "w") as f:
            for n in names:
                row = [f'"{NAMES[n].split(") ", 1)[1]}"']
                for q in widths:
                    r = by.get((n, q))
                    row.append(f"{(r['synack_per_core'] or 0) / 1000:.1f}" if r else "0")
                for q in widths:
                    r = by.get((n, q))
                    row.append(f"{r['synack_pps'] / 1000:.1f}" if r else "0")
                f.write(" ".join(row) + "\n")
        w = len(widths)
        per_core = ", ".join(f"'{data}' using {2 + i}:xtic(1) title '{q} queue(s)'"
                             for i, q in enumerate(widths))
        delivered = ", ".join(f"'{data}' using {2 + w + i}:xtic(1) title '{q} queue(s)'"
                              for i, q in enumerate(widths))
        script = f"""
set terminal pngcairo size 1200,480 font ',10' noenhanced
set output '{png_path}'
set multiplot layout 1,2 title 'SYN flood on veth, firewall pinned; \
medians of {run["rounds"]} round(s) (load average {run["load_before"]})'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set grid ytics
set logscale y
set yrange [10:*]
set key top left
set xtics rotate by -15
set title 'SYN-ACKs per second per firewall core (thousands, log scale)'
plot {per_core}
set title 'SYN-ACKs delivered per second (thousands, log scale)'
plot {delivered}
unset multiplot
"""
        subprocess.run(["gnuplot"], input=script, text=True, check=True)


def _accepted(run):
    rows = [r for r in run["summary"] if r["scenario"].startswith("synwarden") and r["legit"]]
    if not rows:
        return "—"
    accepted = sum(r.get("host_accepted_cookie_acks") or 0 for r in rows)
    return f"{accepted} / {sum(r['legit']['attempts'] for r in rows)}"


def _memory(mem):
    if not mem:
        return ""
    flat = mem["rss_after_kib"] - mem["rss_before_kib"]
    return (f"\n### Daemon memory around a {mem['flood']['seconds']:.0f} s flood\n\n"
            f"synwarden's resident memory (VmRSS) before the flood "
            f"**{mem['rss_before_kib']} KiB**, "
            f"after it **{mem['rss_after_kib']} KiB** ({flat:+d} KiB; highest one-second sample "
            f"during the flood {mem['rss_max_during_kib']} KiB). {mem['flood']['sent']} SYNs "
            f"offered at {mem['flood']['pps'] / 1000:.0f} k/s, {mem['synacks']} answered.\n")


def write(run, md_path):
    png = os.path.splitext(md_path)[0] + "_e2e.png"
    plot(run, png)
    m = run["machine"]
    modified = " (with uncommitted changes)" if m["tree_modified"] else ""
    body = f"""## End to end: SYN flood against one protected address

Machine: {m['os']}, kernel {m['kernel']}, {m['cpus']} × {m['cpu']} ({m['virt']}), \
{m['mem_gib']} GiB; revision {m['revision']}{modified}. Load average before / after: \
{run['load_before']} / {run['load_after']} (other builds share this machine). \
{run['rounds']} interleaved round(s) of {run['seconds']:.0f} s windows; the run took \
{run['elapsed_s']} s.

Command: `{run['command']}`

{table(run)}

Medians over the rounds; in brackets the lowest and highest per-core figure of the rounds.

{ratios(run)}

![SYN-ACKs per firewall core and delivered]({os.path.basename(png)})

How to read it (method: bench/README.md):
- *SYNs offered*: frames the generator (xdpflood, XDP live frames) transmitted into the
  firewall's port in the window; *SYN-ACKs delivered*: answers to the flood counted as they
  left the firewall's port.
- *firewall CPU*: CPU time of the firewall's NAPI threads (XDP, kernel receive path, SYNPROXY)
  plus every thread of the daemon, divided by the window. *per firewall core* = delivered ÷
  that: what one fully used core answers, the figure to compare.
- *limited by*: `firewall` when its RX ring refused ≥ 5 % of the offered SYNs (it could not take
  in what it was sent); `generator` when ≥ 95 % were answered (the per-core figure then
  extrapolates); `shared cores` when the firewall's cores include the generator's.
- On this {m['cpus']}-core machine the 2-queue rows put the firewall on both cores and the
  generator beside it at lower priority, so they show what the whole box sustains, not
  scaling; there each generator thread also feeds the queue of its own core, a same-core
  hand-off that is cheaper than the 1-queue rows' cross-core one: compare 2-queue rows with
  each other only.
- Legitimate clients: {run['legit_rate']:.0f} new connections/s through the flood; success = the
  host's application echoed a request within {run['deadline']:.0f} s; latency over connected
  attempts (a SYN lost in a full ring costs the client's 1 s retransmission).
- synwarden polls the host's synwarden-agent (BPF mode) for its secrets, as deployed; the
  host's kernel accepted {_accepted(run)} of the legitimate connections from the firewall's
  cookie ACKs (the agent's tc program's `assigned` counter).
{_memory(run.get('memory'))}"""
    replace_section(md_path, "e2e", body)
