#!/usr/bin/python3
"""Summarise perf/bgp_ingest.sh results: one JSON line per (receiver, run).

Each line is the injector's output plus "receiver" and "run". Prints, per
receiver, the medians over the runs: seconds until the RIB (and, for
isthmusd, the FIB) held every prefix, VmRSS growth per prefix, and both as
ratios to BIRD measured in the same run (median of the per-run ratios).
"""

import json
import statistics
import sys


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, spec):
    return "-" if value is None else format(value, spec)


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip().startswith("{")]
    by_receiver = {}
    for r in rows:
        by_receiver.setdefault(r["receiver"], []).append(r)
    summary = {}
    for name, runs in by_receiver.items():
        n = runs[0]["prefixes"]
        rib = median([r.get("rib_s") for r in runs])
        fib = median([r.get("fib_s") for r in runs])
        rib_bpp = median([(r["rss_rib_kb"] - r["rss_before_kb"]) * 1024 / n
                          for r in runs if r.get("rss_rib_kb") is not None])
        end_bpp = median([(r.get("rss_fib_kb", r.get("rss_rib_kb")) - r["rss_before_kb"]) * 1024 / n
                          for r in runs if r.get("rss_fib_kb", r.get("rss_rib_kb")) is not None])
        summary[name] = {"prefixes": n, "runs": len(runs), "rib_s": rib, "fib_s": fib,
                         "bytes_per_prefix_rib": rib_bpp, "bytes_per_prefix_end": end_bpp,
                         "rib_s_all": [r.get("rib_s") for r in runs],
                         "fib_s_all": [r.get("fib_s") for r in runs]}
    bird = summary.get("bird", {})
    # Ratios to BIRD in the same run (run number), then their median: the
    # machine's load changes between runs, not within one.
    bird_by_run = {r["run"]: r for r in by_receiver.get("bird", [])}

    def run_ratio(runs, key):
        ratios = []
        for r in runs:
            b = bird_by_run.get(r["run"])
            if b is not None and r.get(key) and b.get("rib_s"):
                ratios.append(r[key] / b["rib_s"])
        return median(ratios)

    print(f"{'receiver':<10} {'prefixes':>9} {'runs':>4} {'RIB s':>8} {'FIB s':>8} "
          f"{'B/prefix':>9} {'RIB/BIRD':>9} {'FIB/BIRD':>9} {'mem/BIRD':>8}")
    for name in ("isthmusd", "bird", "frr"):
        s = summary.get(name)
        if s is None:
            continue
        rib_ratio = run_ratio(by_receiver[name], "rib_s")
        fib_ratio = run_ratio(by_receiver[name], "fib_s")
        m_ratio = (s["bytes_per_prefix_end"] / bird["bytes_per_prefix_end"]
                   if bird.get("bytes_per_prefix_end") and s["bytes_per_prefix_end"] is not None else None)
        print(f"{name:<10} {s['prefixes']:>9} {s['runs']:>4} {fmt(s['rib_s'], '.2f'):>8} "
              f"{fmt(s['fib_s'], '.2f'):>8} {fmt(s['bytes_per_prefix_end'], '.0f'):>9} "
              f"{fmt(rib_ratio, '.2f'):>9} {fmt(fib_ratio, '.2f'):>9} {fmt(m_ratio, '.2f'):>8}")
    if "isthmusd" in summary:
        s = summary["isthmusd"]
        print(f"isthmusd bytes/prefix at Loc-RIB complete (before the FIB catches up): "
              f"{fmt(s['bytes_per_prefix_rib'], '.0f')}")
    print("per-run seconds to full RIB: " + "; ".join(
        f"{k} {v['rib_s_all']}" for k, v in summary.items()))
    if summary.get("isthmusd", {}).get("fib_s") is not None:
        print(f"isthmusd per-run seconds to full FIB: {summary['isthmusd']['fib_s_all']}")


if __name__ == "__main__":
    main(sys.argv[1])
