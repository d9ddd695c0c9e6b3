"""Decodes every histogram of an ipcbench result file with HdrHistogram's
Python implementation (PyPI `hdrhistogram`), and checks each row's figures
against it. Prints one line per row; exits 1 on any disagreement.

The two libraries pick the rank of a percentile differently: Rust's
rounds q*n up, Python's to the nearest. So each figure is checked at
ipcbench's rank (ceil) by walking the decoded counts, and Python's own
percentile must be that value or the next recorded one (one rank apart).

Usage: python3 histograms.py RESULT.json
"""
import json
import math
import sys

from hdrh.histogram import HdrHistogram


def value_at_rank(h, rank):
    seen = 0
    for item in h.get_recorded_iterator():
        seen += item.count_at_value_iterated_to
        if seen >= rank:
            return h.get_highest_equivalent_value(item.value_iterated_to)
    raise ValueError(f"rank {rank} past the {seen} recorded values")


def check(row):
    # The row's first distribution, which its histogram holds.
    dist = row.get("rtt_ns") or row.get("completion_ns") or row.get("one_way_ns")
    h = HdrHistogram.decode(row["histogram"])
    n = h.get_total_count()
    problems = []
    # The quantiles as ipcbench passes them, multiplied in the same IEEE
    # doubles: 99.9 / 100 is 0.9990000000000001, one rank off at n = 8000.
    for quantile, key in [(0.5, "p50"), (0.99, "p99"), (0.999, "p999")]:
        ours = dist[key]
        rank = max(1, math.ceil(quantile * n))
        at_rank = value_at_rank(h, rank)
        theirs = h.get_value_at_percentile(quantile * 100)
        neighbours = {value_at_rank(h, r) for r in (rank - 1, rank) if r >= 1}
        if not h.values_are_equivalent(ours, at_rank):
            problems.append(f"{key} {ours} ns, decoded {at_rank} ns at rank {rank} of {n}")
        elif not any(h.values_are_equivalent(theirs, v) for v in neighbours):
            problems.append(f"{key}: hdrh's own percentile {theirs} ns is more than one rank from {ours} ns")
    return n, problems


def main(path):
    rows = json.load(open(path))["rows"]
    bad = 0
    checked = 0
    for r in rows:
        if r["status"] != "ok" or "histogram" not in r:
            continue
        n, problems = check(r)
        checked += 1
        name = f"{r['mechanism']} {r['pattern']} {r['placement']} {r['size_bytes']} B"
        if problems:
            bad += 1
            print(f"MISMATCH {name}: " + "; ".join(problems))
        else:
            print(f"ok {name}: {n} values, p50/p99/p99.9 agree")
    print(f"{checked} histograms decoded, {bad} disagree")
    return 1 if bad or not checked else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
