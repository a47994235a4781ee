#!/usr/bin/env bash
# Runs a libFuzzer target for a bounded time on a scratch copy of its seed corpus (the seeds in
# the source tree are never written to). Usage: run_fuzz.sh TARGET SEED_DIR SECONDS [MAX_LEN]
# MAX_LEN (default 4096) must hold the largest seed: a raw sample file is a 4 KiB header page
# and its records. The scratch copy is removed afterwards, unless the run found something: then
# it is kept, with the crashing input in it (crash-*, leak-*, timeout-*), and its path printed.
set -uo pipefail
target=$1 seeds=$2 seconds=$3 max_len=${4:-4096}
work=$(mktemp -d)
cp -r "$seeds"/. "$work"/
"$target" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=1024 \
  -print_final_stats=1 -artifact_prefix="$work/" "$work"
rc=$?
if [[ $rc -eq 0 ]]; then
  rm -rf "$work"
else
  echo "run_fuzz.sh: $target exited with $rc; its input is kept in $work:" >&2
  ls "$work" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' >&2
fi
exit $rc
