#!/usr/bin/python3
"""Summarizes forward_bench's JSON output (run with repetitions): the median
of each benchmark, and each forwarding benchmark beside the io-forward
baseline with the same number of frames in flight, measured in the same run."""
import json
import re
import sys

TARGET_CYCLES = 80  # issue target: cycles per packet including ring I/O


def medians(path):
    with open(path) as f:
        doc = json.load(f)
    rows = {}
    for b in doc["benchmarks"]:
        if b.get("aggregate_name", "median") != "median" or b.get("error_occurred"):
            continue
        rows[b["run_name"]] = b
    return doc["context"], rows, [b for b in doc["benchmarks"] if b.get("error_occurred")]


def main(path):
    context, rows, errors = medians(path)
    print(f"forward_bench, {context.get('date')}, {context.get('num_cpus')} CPUs at "
          f"{context.get('mhz_per_cpu')} MHz, medians of {next(iter(rows.values()), {}).get('repetitions', '?')} repetitions")
    print(f"{'benchmark':40} {'cycles/pkt':>10} {'wall cyc/pkt':>12} {'Mpps':>8} {'over io':>8} {'vs io':>6}")
    for name, b in rows.items():
        inflight = re.search(r"inflight:(\d+)", name)
        base = rows.get(f"BM_IoForward/inflight:{inflight.group(1)}") if inflight else None
        over, ratio = "", ""
        if base is not None and not name.startswith("BM_IoForward"):
            over = f"{b['cycles_per_pkt'] - base['cycles_per_pkt']:.1f}"
            ratio = f"{b['Mpps'] / base['Mpps']:.3f}"
        print(f"{name:40} {b['cycles_per_pkt']:10.1f} {b['wall_cycles_per_pkt']:12.1f} {b['Mpps']:8.2f} "
              f"{over:>8} {ratio:>6}")
    for e in errors:
        print(f"ERROR {e['name']}: {e.get('error_message')}")
    headline = rows.get("BM_Forward_1M/inflight:1024")
    if headline is not None:
        verdict = "meets" if headline["cycles_per_pkt"] <= TARGET_CYCLES else "misses"
        print(f"BM_Forward_1M/inflight:1024 {headline['cycles_per_pkt']:.1f} cycles/pkt {verdict} the "
              f"{TARGET_CYCLES}-cycle target")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
