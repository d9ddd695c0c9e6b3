#!/usr/bin/env bash
# Prints the sysfs files ipcbench reads for the CPU topology, as
# `path:value` lines with paths relative to /sys: the format of the
# fixtures in tests/fixtures/topology/. Send the output of a machine unlike
# the ones there, and it becomes a test.
# Usage: scripts/capture-topology.sh > tests/fixtures/topology/NAME.txt
set -uo pipefail
cd /sys || exit 1
shopt -s nullglob
files=(devices/system/cpu/online devices/system/node/online devices/cpu_core/cpus devices/cpu_atom/cpus)
files+=(devices/system/cpu/cpu[0-9]*/topology/{physical_package_id,core_id,thread_siblings_list})
files+=(devices/system/cpu/cpu[0-9]*/cache/index[0-9]*/{level,type,shared_cpu_list})
files+=(devices/system/node/node[0-9]*/cpulist)
for f in "${files[@]}"; do
  [ -r "$f" ] && printf '%s:%s\n' "$f" "$(cat "$f")"
done | sort -V
