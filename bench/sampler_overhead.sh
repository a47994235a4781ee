#!/usr/bin/env bash
# Overhead of the heap sampler, as ratios to the plain run measured in the same session:
# idle (preloaded, not armed), armed at 512 KiB, heaptrack, and valgrind --tool=massif, on a
# malloc-heavy multithreaded workload and on a real program (python3). Median of N runs.
# Also valgrind --tool=callgrind instruction counts, plain vs idle, which do not depend on load.
#   bench/sampler_overhead.sh BUILD_DIR [RUNS]
set -euo pipefail
build=${1:?usage: sampler_overhead.sh BUILD_DIR [RUNS]}
runs=${2:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
lib=$build/src/sampler/libmemvisor_sampler.so
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The interpreter itself, not a wrapper script (pyenv's shim would hide it from valgrind).
python=$(python3 -c 'import sys; print(sys.executable)')
workloads=(
  "storm|$build/tests/sampler/sampler_robustness storm"
  "python3|$python $here/tests/sampler/python_workload.py"
)

# Wall-clock seconds of one run of "$@" (output discarded).
seconds() {
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null 2>&1
  end=$(date +%s%N)
  echo "scale=4; ($end - $start) / 1000000000" | bc
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

measure() {  # measure MODE RUNS CMD...
  local mode=$1 n=$2
  shift 2
  for ((i = 0; i < n; ++i)); do
    rm -rf "$tmp/out" && mkdir -p "$tmp/out" "$tmp/control"
    case $mode in
      plain) seconds "$@" ;;
      idle) seconds env LD_PRELOAD="$lib" MEMVISOR_SAMPLER_DIR="$tmp/control" "$@" ;;
      armed) seconds env LD_PRELOAD="$lib" MEMVISOR_SAMPLER_OUT="$tmp/out/raw.%p" "$@" ;;
      heaptrack) seconds heaptrack -o "$tmp/out/heaptrack" "$@" ;;
      massif) seconds valgrind --tool=massif --massif-out-file="$tmp/out/massif.%p" "$@" ;;
    esac
  done | median
}

echo "| workload | plain (s) | idle | armed 512 KiB | heaptrack | massif |"
echo "| --- | --- | --- | --- | --- | --- |"
for entry in "${workloads[@]}"; do
  name=${entry%%|*}
  read -r -a cmd <<<"${entry#*|}"
  measure plain 1 "${cmd[@]}" >/dev/null  # warm the page cache
  plain=$(measure plain "$runs" "${cmd[@]}")
  idle=$(measure idle "$runs" "${cmd[@]}")
  armed=$(measure armed "$runs" "${cmd[@]}")
  heaptrack=$(measure heaptrack 3 "${cmd[@]}")
  massif=$(measure massif 3 "${cmd[@]}")
  ratio() { echo "scale=3; $1 / $plain" | bc; }
  echo "| $name | $plain | $(ratio "$idle") | $(ratio "$armed") | $(ratio "$heaptrack") | $(ratio "$massif") |"
done

# Instructions (callgrind), plain vs idle, on the C++ new/delete pattern (~1M allocations).
count() {
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" "$@" 2>&1 >/dev/null |
    awk '/Collected/ { print $4 }' | tail -1
}
cxx=$build/tests/sampler/sampler_robustness
plain_ir=$(count "$cxx" cxx)
# The preload goes to the guest through valgrind (tracing `env` would count env, not the program).
idle_ir=$(LD_PRELOAD="$lib" MEMVISOR_SAMPLER_DIR="$tmp/control" count "$cxx" cxx)
echo
echo "callgrind instructions, sampler_robustness cxx: plain $plain_ir, idle $idle_ir," \
  "ratio $(echo "scale=4; $idle_ir / $plain_ir" | bc)"
