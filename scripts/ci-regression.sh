#!/usr/bin/env bash
# Runs the quick suite three times over and compares it with the committed
# baseline (results/baseline.json, made with the same options), printing the
# table of changes. Exits 1 on a regression, unless --report-only.
# Usage: scripts/ci-regression.sh [--report-only] [--max-regression 50%]
set -euo pipefail
cd "$(dirname "$0")/.."
report_only=0
threshold=50%
while [ $# -gt 0 ]; do
  case "$1" in
    --report-only) report_only=1 ;;
    --max-regression) threshold=$2; shift ;;
    *) echo "unknown option '$1': expected --report-only or --max-regression N%" >&2; exit 2 ;;
  esac
  shift
done
cargo build --release --quiet
current=$(mktemp -d)/current.json
trap 'rm -rf "$(dirname "$current")"' EXIT
target/release/ipcbench run --quick --duration 200ms --repeat 3 --no-probe --out "$current" >/dev/null
set +e
target/release/ipcbench compare results/baseline.json "$current" --max-regression "$threshold"
status=$?
set -e
if [ "$report_only" = 1 ]; then
  [ "$status" = 1 ] && echo "(report-only: the regression above does not fail this run)"
  [ "$status" -le 1 ] && exit 0
fi
exit "$status"
