#!/usr/bin/env bash
# Is the harness the bottleneck? Compares ipcbench's 64-byte pipe round trip
# with Linux's own pipe ping-pong (`perf bench sched pipe`, whose "usecs/op"
# is one round trip between two processes), run one after the other under the
# same placement: both on CPU 0, then both unpinned. The two alternate for
# several rounds (the machine is shared and drifts), and medians are compared.
# Usage: scripts/compare-perf-bench.sh [rounds] [loops]   (needs perf: apt-get install linux-perf)
set -euo pipefail
rounds=${1:-5}
loops=${2:-100000}
cd "$(dirname "$0")/.."
command -v perf >/dev/null || { echo "perf not found (apt-get install linux-perf)" >&2; exit 2; }
cargo build --release --quiet
bin=target/release/ipcbench
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

perf_us() { "$@" perf bench sched pipe -l "$loops" 2>/dev/null | awk '/usecs\/op/ {print $1}'; }
ipcbench_us() {
  "$bin" run -m pipe --sizes 64 --patterns latency --pin "$1" --duration 1s --out "$tmp/$1.json" >/dev/null 2>&1
  python3 - "$tmp/$1.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["rows"][0]["rtt_ns"]
print(f'{r["p50"]/1000:.2f} {r["mean"]/1000:.2f}')
PY
}

median() { python3 -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.2f}')" "$@"; }

printf '%-9s %16s %16s %17s %10s\n' placement "perf µs/op (med)" "ipcbench p50 µs" "ipcbench mean µs" "mean/perf"
for mode in same none; do
  perfs=() p50s=() means=()
  for _ in $(seq "$rounds"); do
    if [ "$mode" = same ]; then perfs+=("$(perf_us taskset -c 0)"); else perfs+=("$(perf_us env)"); fi
    read -r p50 mean < <(ipcbench_us "$mode")
    p50s+=("$p50") means+=("$mean")
  done
  p=$(median "${perfs[@]}") p50=$(median "${p50s[@]}") mean=$(median "${means[@]}")
  printf '%-9s %16s %16s %17s %10s\n' "$mode" "$p" "$p50" "$mean" "$(python3 -c "print(f'{$mean/$p:.3f}')")"
done
echo "perf's figure is a mean over all round trips (4-byte messages); compare it with ipcbench's mean (64-byte messages, verified)."
