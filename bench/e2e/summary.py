"""Folds the repeated runs of one configuration (scenario x queues) into the numbers the table
shows: medians of the rates and CPU, the spread of the per-core figure, and legitimate
connections pooled over all rounds (success over every attempt, percentiles over every
connected attempt)."""
import statistics

from legit_client import percentile


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarise(results):
    groups = {}
    for r in results:
        groups.setdefault((r["scenario"], r["queues"]), []).append(r)
    rows = []
    for (_, _), runs in groups.items():
        first = runs[0]
        per_core = [r["synack_per_core"] for r in runs if r["synack_per_core"]]
        row = {k: first[k] for k in ("scenario", "key", "title", "queues", "fw_cpus")}
        for k in ("offered_pps", "synack_pps", "ring_full_pps", "fw_cores", "fw_cores_napi",
                  "fw_cores_proc", "synack_per_core"):
            row[k] = _median([r[k] for r in runs])
        row["per_core_range"] = (min(per_core), max(per_core)) if per_core else None
        row["rounds"] = len(runs)
        bounds = sorted({r["bound"] for r in runs})
        row["bound"] = bounds[0] if len(bounds) == 1 else "/".join(bounds)
        agent = [int(r["details"].get("host_agent", {}).get("assigned", 0)) for r in runs]
        row["host_accepted_cookie_acks"] = sum(agent) if any(agent) else None
        legit = [r["legit"] for r in runs if r["legit"]]
        if legit:
            attempts = sum(l["attempts"] for l in legit)
            succeeded = sum(l["succeeded"] for l in legit)
            connect = [v for l in legit for v in l.get("connect_ms", [])]
            errors = {}
            for l in legit:
                for k, v in l["errors"].items():
                    errors[k] = errors.get(k, 0) + v
            row["legit"] = {"attempts": attempts, "succeeded": succeeded,
                            "success_pct": 100.0 * succeeded / attempts if attempts else None,
                            "connect_ms_p50": percentile(connect, 50),
                            "connect_ms_p99": percentile(connect, 99), "errors": errors}
        else:
            row["legit"] = None
        rows.append(row)
    return rows
