#!/usr/bin/env bash
# How often does `ipcbench compare` cry wolf? Runs the quick suite (3 trials)
# N+1 times with the same build, compares each of the last N with the first,
# and counts the rows flagged as regressions at a few thresholds: every flag
# here is a false alarm, since nothing changed.
# Usage: scripts/false-alarm-rate.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
cargo build --release --quiet
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for i in $(seq 0 "$n"); do
  target/release/ipcbench run --quick --duration 200ms --repeat 3 --no-probe --out "$dir/run$i.json" >/dev/null 2>&1 || true
done
for t in 10% 25% 50%; do
  flagged=0 compared=0
  for i in $(seq 1 "$n"); do
    out=$(target/release/ipcbench compare "$dir/run0.json" "$dir/run$i.json" --max-regression "$t" || true)
    flagged=$((flagged + $(grep -c 'REGRESSION' <<<"$out" || true)))
    compared=$((compared + $(grep -oE '^[0-9]+ cases compared' <<<"$out" | grep -oE '^[0-9]+')))
  done
  echo "threshold $t: $flagged false alarms in $compared row comparisons ($n runs against the first)"
done
