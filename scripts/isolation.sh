#!/usr/bin/env bash
# What crossing a container boundary costs, on this machine: pipe, a Unix
# socket by path and TCP (loopback, then over a veth pair), each with its
# peer in ipcbench's namespaces, in another container of the same pod, and
# in a separate container; every figure from one run (same machine, same
# moment, CPUs A and B, and A alone). Needs root. Writes the result file to DIR.
# Usage: scripts/isolation.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-$(mktemp -d)}
mkdir -p "$dir"
cargo build --release --quiet
target/release/ipcbench run -m pipe,uds-stream,tcp,posix-mq \
  --patterns latency,throughput --sizes 64 --pin same,cross \
  --isolation none,same-pod,separate-containers --duration 1s --no-probe \
  --out "$dir/isolation.json" >/dev/null 2>&1 || true
python3 - "$dir/isolation.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
cell = {}
for x in r["rows"]:
    key = (x["mechanism"], x.get("isolation", "none"), x["placement"])
    if x["status"] != "ok":
        cell.setdefault(key, {})[x["pattern"]] = "unsupported"
    elif x["pattern"] == "latency":
        cell.setdefault(key, {})["latency"] = f'{x["rtt_ns"]["p50"] / 1000:.1f} µs'
    else:
        cell.setdefault(key, {})["throughput"] = f'{x["msgs_per_s"] / 1000:.0f} k msg/s'
print("| transport | isolation | placement | RTT p50 | throughput |")
print("|---|---|---|---|---|")
for (m, i, p), c in sorted(cell.items(), key=lambda kv: (kv[0][2], list(cell).index(kv[0]))):
    print(f'| {m} | {i} | {p} | {c.get("latency", "–")} | {c.get("throughput", "–")} |')
PY
echo "result file: $dir/isolation.json"
