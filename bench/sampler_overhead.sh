#!/usr/bin/env bash
# Overhead of the heap sampler, as ratios to the plain run measured in the same session:
# idle (preloaded, not armed), armed at 512 KiB, heaptrack, and valgrind --tool=massif, on a
# malloc-heavy multithreaded workload and on a real program (python3). Median of N runs of CPU
# time (what the sampler adds to the program's work; wall time on a shared machine moves with
# everything else running) and of wall time.
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

# One run of "$@" (output discarded): "WALL CPU" in seconds, CPU being user + system time of the
# process and every descendant it waited for (heaptrack's interpreter, valgrind's tool).
run_once() {
  /usr/bin/time -f "%e %U %S" -o "$tmp/time" "$@" >/dev/null 2>&1 || true
  awk '{ printf "%s %.3f\n", $1, $2 + $3 }' "$tmp/time"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

run_mode() {  # run_mode MODE CMD...
  local mode=$1
  shift
  rm -rf "$tmp/out" && mkdir -p "$tmp/out" "$tmp/control"
  case $mode in
    plain) run_once "$@" ;;
    idle) run_once env LD_PRELOAD="$lib" MEMVISOR_SAMPLER_DIR="$tmp/control" "$@" ;;
    armed) run_once env LD_PRELOAD="$lib" MEMVISOR_SAMPLER_OUT="$tmp/out/raw.%p" "$@" ;;
    heaptrack) run_once heaptrack -o "$tmp/out/heaptrack" "$@" ;;
    massif) run_once valgrind --tool=massif --massif-out-file="$tmp/out/massif.%p" "$@" ;;
  esac
}

# Rounds interleave the modes, so that load from elsewhere on the machine falls on all of them
# alike; heaptrack and massif (slow) run in the first three rounds only.
modes=(plain idle armed heaptrack massif)
echo "CPU time (user + system), median of $runs, as ratios to the plain run; wall time below."
echo
echo "| workload | plain CPU (s) | idle | armed 512 KiB | heaptrack | massif |"
echo "| --- | --- | --- | --- | --- | --- |"
walls=()
for entry in "${workloads[@]}"; do
  name=${entry%%|*}
  read -r -a cmd <<<"${entry#*|}"
  run_mode plain "${cmd[@]}" >/dev/null  # warm the page cache
  for mode in "${modes[@]}"; do : >"$tmp/$mode.wall" && : >"$tmp/$mode.cpu"; done
  for ((round = 0; round < runs; ++round)); do
    for mode in "${modes[@]}"; do
      if [[ ($mode == heaptrack || $mode == massif) && $round -ge 3 ]]; then continue; fi
      read -r wall cpu < <(run_mode "$mode" "${cmd[@]}")
      echo "$wall" >>"$tmp/$mode.wall"
      echo "$cpu" >>"$tmp/$mode.cpu"
    done
  done
  declare -A cpu_of wall_of
  for mode in "${modes[@]}"; do
    cpu_of[$mode]=$(median <"$tmp/$mode.cpu")
    wall_of[$mode]=$(median <"$tmp/$mode.wall")
  done
  ratio() { echo "scale=3; $1 / $2" | bc; }
  row="| $name | ${cpu_of[plain]}"
  wall_row="| $name | ${wall_of[plain]}"
  for mode in idle armed heaptrack massif; do
    row+=" | $(ratio "${cpu_of[$mode]}" "${cpu_of[plain]}")"
    wall_row+=" | $(ratio "${wall_of[$mode]}" "${wall_of[plain]}")"
  done
  echo "$row |"
  walls+=("$wall_row |")
done
echo
echo "| workload | plain wall (s) | idle | armed 512 KiB | heaptrack | massif |"
echo "| --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${walls[@]}"

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
