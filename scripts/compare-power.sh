#!/usr/bin/env bash
# How often does `ipcbench compare` flag a real slowdown, and how often
# does it cry wolf? Runs a latency suite once as the baseline, then again
# with one transport's peer made slower by a known share (the test-only
# `--inject slower@P:T`, which holds the peer's median cycle at 1 + P/100
# times its warm-up's), rotating the transport, and compares each run with
# the baseline twice: by the merged histograms (the default) and by trials
# only (`--by trials`). Runs with nothing injected give the false alarms.
# Usage: scripts/compare-power.sh [RUNS PER LEVEL [TRIALS PER CASE]]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-4}
repeat=${2:-3}
transports=(pipe fifo uds-stream uds-dgram socketpair tcp posix-mq eventfd-shm)
suite=(-m "$(IFS=,; echo "${transports[*]}")" --patterns latency --sizes 64,4096
  --duration 200ms --warmup 100ms --repeat "$repeat" --no-probe)
cargo build --release --quiet
bin=target/release/ipcbench
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
$bin run "${suite[@]}" --out "$dir/base.json" >/dev/null 2>&1

# Verdicts of one comparison, as "mechanism verdict raw-change
# normalised-change" lines.
verdicts() {
  $bin compare "$dir/base.json" "$1" --max-regression 10% --by "$2" 2>/dev/null \
    | awk -F'|' 'NR > 2 && NF > 9 {for (i = 2; i <= 10; i++) gsub(/ /, "", $i); print $2, $10, $8, $9}' || true
}
achieved=()

for level in 0 10 25; do
  for by in distributions trials; do
    declare "hit_${level}_${by}=0" "aimed_${level}_${by}=0" "alarm_${level}_${by}=0" "other_${level}_${by}=0"
  done
  for i in $(seq 1 "$n"); do
    target=${transports[$(( (i - 1) % ${#transports[@]} ))]}
    inject=()
    [ "$level" != 0 ] && inject=(--inject "slower@$level:$target")
    out="$dir/l$level-$i.json"
    $bin run "${suite[@]}" "${inject[@]}" --out "$out" >/dev/null 2>&1 || true
    for by in distributions trials; do
      while read -r mechanism verdict raw normalised; do
        if [ "$level" != 0 ] && [ "$mechanism" = "$target" ]; then
          [ "$by" = trials ] && achieved+=("$level ${raw%\%} ${normalised%\%}")
          eval "aimed_${level}_${by}=\$((aimed_${level}_${by} + 1))"
          [ "$verdict" = REGRESSION ] && eval "hit_${level}_${by}=\$((hit_${level}_${by} + 1))"
        else
          eval "other_${level}_${by}=\$((other_${level}_${by} + 1))"
          [ "$verdict" = REGRESSION ] && eval "alarm_${level}_${by}=\$((alarm_${level}_${by} + 1))"
        fi
      done < <(verdicts "$out" "$by")
    done
  done
done

for by in distributions trials; do
  echo "by $by:"
  for level in 10 25; do
    hit=$(( hit_${level}_${by} )) aimed=$(( aimed_${level}_${by} ))
    echo "  ${level}% slower: $hit of $aimed slowed rows flagged"
  done
  alarms=0 others=0
  for level in 0 10 25; do
    alarms=$(( alarms + alarm_${level}_${by} )) others=$(( others + other_${level}_${by} ))
  done
  echo "  false alarms: $alarms of $others rows not slowed"
done
# What the injection achieved: the slowed rows' median change, raw (the
# machine's drift between the runs included) and against the same run's
# reference (drift cancelled).
median() { sort -g | awk '{v[NR] = $1} END {printf "%+.1f%%", v[int((NR + 1) / 2)]}'; }
for level in 10 25; do
  rows=$(printf '%s\n' "${achieved[@]}" | awk -v l="$level" '$1 == l')
  echo "${level}% injected: the slowed rows' median change $(awk '{print $2}' <<<"$rows" | median) raw, $(awk '{print $3}' <<<"$rows" | median) normalised ($(wc -l <<<"$rows") rows)"
done
