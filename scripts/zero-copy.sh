#!/usr/bin/env bash
# Issue 25's checks, as a benchmark on this machine: the zero-copy paths
# against the copying ones and against the run's own physical limits,
# each figure a ratio within one run (same machine, same moment, CPUs
# A and B, receivers spinning). Writes both result files to DIR.
# Usage: scripts/zero-copy.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-$(mktemp -d)}
mkdir -p "$dir"
cargo build --release --quiet
lenders=shm-loan,memfd-pass,vmsplice,cma
copiers=shm-ring,pipe,uds-stream,shm-posix-sem
for verify in full seq; do
  target/release/ipcbench run -m "$lenders,$copiers" --sizes 64,64KiB,1MiB \
    --pin cross --waits spin --duration 1s --no-probe --verify "$verify" \
    --out "$dir/$verify.json" >/dev/null 2>&1 || true
done
python3 - "$dir/full.json" "$dir/seq.json" <<'PY'
import json, sys
full, seq = (json.load(open(p)) for p in sys.argv[1:])
lenders = {"shm-loan", "memfd-pass", "vmsplice", "cma"}
copiers = {"shm-ring", "pipe", "uds-stream", "shm-posix-sem"}
KIB, MIB = 65536, 1048576

def rows(r, pattern, size, names):
    return [x for x in r["rows"] if x["status"] == "ok" and x["pattern"] == pattern
            and x["size_bytes"] == size and x["mechanism"] in names]

def best(r, size, names):
    return max(rows(r, "throughput", size, names), key=lambda x: x["mib_per_s"])

def p50(r, name, size):
    return rows(r, "latency", size, {name})[0]["rtt_ns"]["p50"]

def check(what, ratio, limit, above):
    ok = ratio >= limit if above else ratio <= limit
    sign = ">=" if above else "<="
    print(f"{'PASS' if ok else 'FAIL'}  {what}: {ratio:.2f} (needs {sign} {limit})")

floors = full["floors"]
line = floors["cache_line_rtt_ns"]["p50"]
check(f"shm-ring 64 B RTT p50 {p50(full, 'shm-ring', 64)} ns / cache-line floor {line} ns",
      p50(full, "shm-ring", 64) / line, 1.5, False)
crc = dict(floors["crc32c_mib_per_s"])[MIB]
b = best(full, MIB, lenders)
check(f"full: {b['mechanism']} 1 MiB {b['mib_per_s']:.0f} MiB/s / CRC32C limit {crc:.0f} MiB/s",
      b["mib_per_s"] / crc, 0.8, True)
z, c = best(seq, MIB, lenders), best(seq, MIB, copiers)
check(f"seq: {z['mechanism']} {z['mib_per_s']:.0f} MiB/s / {c['mechanism']} {c['mib_per_s']:.0f} MiB/s at 1 MiB",
      z["mib_per_s"] / c["mib_per_s"], 3.0, True)
check(f"seq: shm-loan RTT p50 1 MiB {p50(seq, 'shm-loan', MIB)} ns / 64 B {p50(seq, 'shm-loan', 64)} ns",
      p50(seq, "shm-loan", MIB) / p50(seq, "shm-loan", 64), 2.0, False)
for r, verify in ((full, "full"), (seq, "seq")):
    for name in sorted(lenders):
        for size in (64, KIB, MIB):
            for pattern in ("latency", "throughput"):
                got = rows(r, pattern, size, {name})
                clean = got and sum(got[0]["errors"].values()) == 0
                if not clean:
                    print(f"FAIL  {verify}: {name} {pattern} {size} B is not an ok row with zero errors")
print("result files:", *sys.argv[1:])
PY
