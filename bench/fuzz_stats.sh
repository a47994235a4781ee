#!/usr/bin/env bash
# Runs every libFuzzer target (build/fuzz/*_fuzz) for SECONDS each on a scratch copy of its seed
# corpus, and prints one Markdown row per target: execs/s, edge coverage (cov), features (ft),
# corpus size at the end, and whether it found anything (a crash leaves an artifact and a non-zero
# exit). Usage: bench/fuzz_stats.sh [SECONDS=180] [BUILD=build] [TARGET...]
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-180}
build=${2:-$here/build}
shift $(($# > 2 ? 2 : $#))
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=(control_request config proc cgroup notify worker_message http trace_csv raw_samples)
fi
echo "| target | seconds | execs/s | cov | ft | corpus | result |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for name in "${targets[@]}"; do
  max_len=4096
  [[ $name == raw_samples ]] && max_len=16384
  log=$(mktemp)
  "$here/fuzz/run_fuzz.sh" "$build/fuzz/${name}_fuzz" "$here/fuzz/corpus/$name" "$seconds" \
    "$max_len" >"$log" 2>&1
  rc=$?
  last=$(grep -E '#[0-9]+.*cov:' "$log" | tail -1)
  cov=$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.*ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -nE 's/.*corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/p' <<<"$last")
  eps=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+).*/\1/p' "$log")
  result=$([[ $rc -eq 0 ]] && echo "nothing found" || echo "FOUND (exit $rc): $(grep -m1 -E 'ERROR|SUMMARY|deadly' "$log")")
  echo "| $name | $seconds | ${eps:-?} | ${cov:-?} | ${ft:-?} | ${corp:-?} | $result |"
  [[ $rc -eq 0 ]] && rm -f "$log" || echo "  (log kept: $log)" >&2
done
