#!/usr/bin/env bash
# same_output.sh LIBRARY MEMVISOR CMD [ARGS...]
# Runs CMD three times: plain, with the heap sampler loaded but idle, and with it armed for the
# whole run at a small interval (many samples). stdout and the exit code must be identical, and
# the armed run must have produced a complete sample file with samples in it.
set -u
lib=$1 memvisor=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/control"

run() {
  local name=$1
  shift
  (cd "$tmp" && "$@") >"$tmp/$name.out" 2>"$tmp/$name.err"
  echo $? >"$tmp/$name.rc"
}

run plain "$@"
run idle env LD_PRELOAD="$lib" MEMVISOR_SAMPLER_DIR="$tmp/control" "$@"
run armed env LD_PRELOAD="$lib" MEMVISOR_SAMPLER_OUT="$tmp/raw.%p" MEMVISOR_SAMPLER_INTERVAL=8192 "$@"

status=0
for mode in idle armed; do
  if ! cmp -s "$tmp/plain.out" "$tmp/$mode.out" || ! cmp -s "$tmp/plain.rc" "$tmp/$mode.rc"; then
    echo "FAIL: output or exit code differs between the plain and the $mode run"
    diff "$tmp/plain.out" "$tmp/$mode.out" | head -20
    echo "exit codes: $(cat "$tmp/plain.rc") vs $(cat "$tmp/$mode.rc")"
    cat "$tmp/$mode.err" | head -20
    status=1
  fi
done
echo "plain exit $(cat "$tmp/plain.rc"), $(wc -l <"$tmp/plain.out") lines of output"

# The armed run sampled.
biggest=$(ls -S "$tmp"/raw.* 2>/dev/null | head -1)
if [[ -z $biggest ]]; then
  echo "FAIL: the armed run wrote no sample file"
  exit 1
fi
if ! "$memvisor" sample --raw "$biggest" --out "$tmp/report.json" >"$tmp/report.txt"; then
  echo "FAIL: no report from $biggest"
  cat "$tmp/report.txt"
  exit 1
fi
samples=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["total_allocated"]["samples"] if r["complete"] else 0)' "$tmp/report.json")
echo "armed run: $samples samples in the largest file"
[[ $samples -gt 0 ]] || { echo "FAIL: the armed run recorded no sample"; status=1; }
exit $status
