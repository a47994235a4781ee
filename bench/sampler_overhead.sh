#!/usr/bin/env bash
# Overhead of the heap sampler, as ratios to the plain run measured in the same session:
# idle (preloaded, not armed), armed at 512 KiB, heaptrack, and valgrind --tool=massif, on a
# malloc-heavy multithreaded workload and on a real program (python3), in CPU time (what the
# sampler adds to the program's work; wall time on a shared machine moves with everything else
# running) and in wall time.
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
# alike, and each mode is compared with the plain run of its own round: the ratio is the median
# over rounds of (mode / plain in that round), shown with the lowest and highest of them, since
# this shared machine moves by several per cent from one minute to the next. heaptrack and
# massif (slow) run in the first three rounds only.
modes=(plain idle armed heaptrack massif)
echo "CPU time (user + system): plain in seconds (median of $runs); the others as the median of"
echo "their per-round ratios to plain, with the lowest and highest ratio. Wall time below."
echo
echo "| workload | plain CPU (s) | idle | armed 512 KiB | heaptrack | massif |"
echo "| --- | --- | --- | --- | --- | --- |"
walls=()
for entry in "${workloads[@]}"; do
  name=${entry%%|*}
  read -r -a cmd <<<"${entry#*|}"
  run_mode plain "${cmd[@]}" >/dev/null  # warm the page cache
  : >"$tmp/rounds"
  for ((round = 0; round < runs; ++round)); do
    for mode in "${modes[@]}"; do
      if [[ ($mode == heaptrack || $mode == massif) && $round -ge 3 ]]; then continue; fi
      read -r wall cpu < <(run_mode "$mode" "${cmd[@]}")
      echo "$round $mode $wall $cpu" >>"$tmp/rounds"
    done
  done
  # One table row for CPU time and one for wall time, from the rounds file.
  read -r cpu_row wall_row < <(python3 - "$tmp/rounds" "$name" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
by = {}  # (mode, round) -> (wall, cpu)
for round_, mode, wall, cpu in rows:
    by[(mode, round_)] = (float(wall), float(cpu))
rounds = sorted({r for _, r in by})
def cell(mode, k):
    ratios = [by[(mode, r)][k] / by[("plain", r)][k] for r in rounds if (mode, r) in by]
    return "%.3f_(%.2f-%.2f)" % (statistics.median(ratios), min(ratios), max(ratios))
out = []
for k in (1, 0):
    plain = statistics.median(by[("plain", r)][k] for r in rounds)
    cells = [cell(m, k) for m in ("idle", "armed", "heaptrack", "massif")]
    out.append(("|_%s_|_%.3f_|_" % (sys.argv[2], plain)) + "_|_".join(cells) + "_|")
print(" ".join(out))
PY
  )
  echo "${cpu_row//_/ }"
  walls+=("${wall_row//_/ }")
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
