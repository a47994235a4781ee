#!/bin/bash
# Every leak-rule score the team compares a change on, summary lines only, into one file:
# the given suites, the recorded corpus (declared warm-ups and the default), and draws of
# bench/leak_traces_gen.py (seeds 1-10 and 21-30 standard and --extra, --random-phase 1-8; fresh
# seeds 41-50 and --random-phase 11-18; random phase with a 3 h warm-up). Draws are generated
# into $DRAWS (default /tmp/leak-draws-all) when missing.
#
#   bench/leak_score_all.sh [LEAK_SCORE] > scores.txt    # then diff two builds' files
set -euo pipefail
cd "$(dirname "$0")/.."
L=${1:-./build/bench/leak_score}
D=${DRAWS:-/tmp/leak-draws-all}
draw() {  # draw KIND SEED... : one suite per seed, made once
  local kind=$1; shift
  for s in "$@"; do
    local out="$D/$kind/seed$s"
    [ -d "$out" ] && continue
    case $kind in
      standard) python3 bench/leak_traces_gen.py --seed "$s" --out "$out" >/dev/null ;;
      extra) python3 bench/leak_traces_gen.py --seed "$s" --out "$out" --extra >/dev/null ;;
      phase) python3 bench/leak_traces_gen.py --seed "$s" --out "$out" --random-phase >/dev/null ;;
    esac
  done
}
dirs() {  # dirs KIND SEED... : the --dir arguments
  local kind=$1; shift
  for s in "$@"; do echo --dir "$D/$kind/seed$s"; done
}
old=$(echo $(seq 1 10) $(seq 21 30)); fresh=$(seq 41 50)
draw standard $old $fresh; draw extra $old $fresh; draw phase $(seq 1 18)
summary() { "$L" --summary-only "$@" 2>&1 | grep -E '^memvisor'; }
echo "## given"; summary
echo "## corpus, declared warm-ups"
summary --declared-warmup --dir bench/corpus/tuning --dir bench/corpus/holdout
echo "## corpus, default warm-up"; summary --dir bench/corpus/tuning --dir bench/corpus/holdout
echo "## draws 1-10, 21-30"; summary $(dirs standard $old) | grep ' all '
echo "## --extra 1-10, 21-30"; summary $(dirs extra $old) | grep ' all '
echo "## --random-phase 1-8"; summary $(dirs phase $(seq 1 8)) | grep ' all '
echo "## --random-phase 1-8, --warmup 180"; summary --warmup 180 $(dirs phase $(seq 1 8)) | grep ' all '
echo "## fresh 41-50"; summary $(dirs standard $fresh) | grep ' all '
echo "## fresh --extra 41-50"; summary $(dirs extra $fresh) | grep ' all '
echo "## fresh --random-phase 11-18"; summary $(dirs phase $(seq 11 18)) | grep ' all '
echo "## fresh --random-phase 11-18, --warmup 180"
summary --warmup 180 $(dirs phase $(seq 11 18)) | grep ' all '
