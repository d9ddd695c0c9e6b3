#!/usr/bin/env bash
# Issue 38's tables, from runs made here and now:
#  1. iceoryx2 against ipcbench's shm-loan and shm-ring, receivers
#     spinning, across two CPUs, at 64 B, 4 KiB and 1 MiB, with every
#     payload checked (full) and with sequence numbers only (seq);
#  2. each middleware against the primitive under it (zeromq over a Unix
#     stream socket, iceoryx2 over shared memory like shm-ring), blocking,
#     on one CPU and across, at 64 B and 64 KiB: its cost of convenience.
# Every figure is a row of the result files it writes to DIR.
# Usage: scripts/compare-middleware.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-$(mktemp -d)}
mkdir -p "$dir"
cargo build --release --quiet
run() { target/release/ipcbench run --no-probe --duration 1s "$@" >/dev/null 2>&1 || true; }
for verify in full seq; do
  run -m iceoryx2,shm-loan,shm-ring --sizes 64,4KiB,1MiB --pin cross --waits spin \
    --patterns latency,throughput --verify "$verify" --out "$dir/zero-copy-$verify.json"
done
run -m zeromq,uds-stream,iceoryx2,shm-ring --sizes 64,64KiB --patterns latency \
  --out "$dir/convenience.json"
python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
load = lambda name: json.load(open(f"{d}/{name}.json"))

def row(r, name, pattern, size, placement=None):
    for x in r["rows"]:
        if (x["mechanism"], x["pattern"], x["size_bytes"]) == (name, pattern, size) \
                and (placement is None or x["placement"] == placement):
            return x
    return None

def us(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns} ns"

def size_name(s):
    return {64: "64 B", 4096: "4 KiB", 65536: "64 KiB", 1048576: "1 MiB"}[s]

print("| verify | size | iceoryx2 RTT p50 / p99 | shm-loan RTT p50 / p99 | shm-ring RTT p50 / p99 | iceoryx2 / shm-loan / shm-ring MiB/s | shm-loan ≤ iceoryx2 |")
print("|---|---|---|---|---|---|---|")
for verify in ("full", "seq"):
    r = load(f"zero-copy-{verify}")
    for size in (64, 4096, 1048576):
        cells, rtts, rates = [], {}, []
        for name in ("iceoryx2", "shm-loan", "shm-ring"):
            lat, thr = row(r, name, "latency", size), row(r, name, "throughput", size)
            ok = lat is not None and lat["status"] == "ok"
            rtts[name] = lat["rtt_ns"]["p50"] if ok else None
            cells.append(f"{us(lat['rtt_ns']['p50'])} / {us(lat['rtt_ns']['p99'])}" if ok
                         else (lat or {}).get("status", "absent"))
            rates.append(f"{thr['mib_per_s']:.0f}" if thr and thr["status"] == "ok" else "–")
        a, b = rtts["shm-loan"], rtts["iceoryx2"]
        verdict = "–" if None in (a, b) else ("yes" if a <= b else f"no ({a / b:.2f}×)")
        print(f"| {verify} | {size_name(size)} | " + " | ".join(cells) + f" | {' / '.join(rates)} | {verdict} |")

print()
print("| middleware ÷ primitive | placement | 64 B RTT p50 | 64 KiB RTT p50 |")
print("|---|---|---|---|")
r = load("convenience")
for mid, under in (("zeromq", "uds-stream"), ("iceoryx2", "shm-ring")):
    for placement in ("same", "cross"):
        cells = []
        for size in (64, 65536):
            m, u = row(r, mid, "latency", size, placement), row(r, under, "latency", size, placement)
            if m and u and m["status"] == u["status"] == "ok":
                mp, up = m["rtt_ns"]["p50"], u["rtt_ns"]["p50"]
                cells.append(f"{us(mp)} ÷ {us(up)} = {mp / up:.2f}×")
            else:
                cells.append("–")
        print(f"| {mid} ÷ {under} | {placement} | " + " | ".join(cells) + " |")
PY
echo "result files in $dir"
