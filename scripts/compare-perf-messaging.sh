#!/usr/bin/env bash
# ipcbench's groups pattern against `perf bench sched messaging` (hackbench)
# on the same shape: G groups of 20 senders and 20 receivers, every sender
# writing L messages of 100 bytes to every receiver of its group, over Unix
# stream socket pairs (perf's default) and over pipes (perf's -p). Both
# count from the start signal to the last process reaped, unpinned. The two
# alternate for several rounds (the machine is shared and drifts), and the
# medians are compared; ipcbench's time to the last receipt is shown beside.
# Where perf is missing, it says so and exits 0: the pattern needs no perf.
# Usage: scripts/compare-perf-messaging.sh [rounds] [groups] [loops]
set -euo pipefail
rounds=${1:-5}
groups=${2:-2}
loops=${3:-200}
cd "$(dirname "$0")/.."
if ! command -v perf >/dev/null || ! perf bench sched messaging -g 1 -l 1 >/dev/null 2>&1; then
  echo "perf bench sched messaging is not available here (apt-get install linux-perf): nothing compared"
  exit 0
fi
cargo build --release --quiet
bin=target/release/ipcbench
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

perf_s() { perf bench sched messaging -g "$groups" -l "$loops" "$@" 2>/dev/null | awk '/Total time/ {print $3}'; }
ipcbench_s() {
  "$bin" run -m "$1" --patterns groups --groups "$groups" --loops "$loops" --pin none \
    --no-probe --out "$tmp/$1.json" >/dev/null 2>&1
  python3 - "$tmp/$1.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["rows"][0]
assert r["status"] == "ok" and sum(r["errors"].values()) == 0, r
print(f'{r["total_ns"] / 1e9:.4f} {r["elapsed_s"]:.4f}')
PY
}
median() { python3 -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.4f}')" "$@"; }

printf '%-11s %13s %19s %26s %12s\n' channel "perf total s" "ipcbench total s" "ipcbench to last receipt s" "total/perf"
for mode in uds-stream pipe; do
  perfs=() totals=() receipts=()
  for _ in $(seq "$rounds"); do
    if [ "$mode" = pipe ]; then perfs+=("$(perf_s -p)"); else perfs+=("$(perf_s)"); fi
    read -r total receipt < <(ipcbench_s "$mode")
    totals+=("$total") receipts+=("$receipt")
  done
  p=$(median "${perfs[@]}") t=$(median "${totals[@]}") r=$(median "${receipts[@]}")
  printf '%-11s %13s %19s %26s %12s\n' "$mode" "$p" "$t" "$r" "$(python3 -c "print(f'{$t/$p:.3f}')")"
done
