#!/usr/bin/env bash
# The systemd units of deploy/systemd, checked offline by systemd itself: `systemd-analyze verify`
# prints nothing (no warning) and `systemd-analyze security --offline=yes` scores at most 5.0.
# The units name /usr/bin/memvisor; verify checks that ExecStart= is executable, so each unit is
# checked as a copy naming the binary just built. Two negative controls show that both checks
# can fail: a misspelt key must make verify speak, the unit without its hardening must score
# above 5.0.
#   tests/deploy/systemd_units_test.sh MEMVISOR_BINARY SOURCE_DIR
set -euo pipefail

memvisor=$1
source_dir=$2
max_exposure=5.0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# The unit as installed, but running the built binary. A template is checked as an instance.
copy_unit() {  # unit-file name-in-tmp
  sed "s|/usr/bin/memvisor|$memvisor|g" "$1" >"$tmp/$2"
}

verify_output() {  # unit-path
  (cd "$tmp" && systemd-analyze verify "$1" 2>&1) || true
}

exposure() {  # unit-path -> the number of "Overall exposure level for X: N.N ..."
  systemd-analyze security --offline=yes "$1" 2>&1 |
    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}

at_most() {  # a b: a <= b, as decimals
  awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'
}

units=("$source_dir"/deploy/systemd/*.service)
[[ ${#units[@]} -ge 1 && -e ${units[0]} ]] || { echo "FAIL: no unit in deploy/systemd"; exit 1; }

for unit in "${units[@]}"; do
  name=$(basename "$unit")
  [[ $name == *@.service ]] && name=${name%@.service}@example.service
  copy_unit "$unit" "$name"
  output=$(verify_output "$tmp/$name")
  if [[ -n $output ]]; then
    fail "systemd-analyze verify $name:"$'\n'"$output"
  else
    echo "ok: systemd-analyze verify $name: no warning"
  fi
  score=$(exposure "$tmp/$name")
  if [[ -z $score ]]; then
    fail "no 'Overall exposure level' line for $name"
  elif at_most "$score" "$max_exposure"; then
    echo "ok: $name exposure $score <= $max_exposure"
  else
    fail "$name exposure $score > $max_exposure"
  fi
  grep -q '^Type=notify$' "$tmp/$name" || fail "$name: not Type=notify"
  grep -q '^KillMode=mixed$' "$tmp/$name" || fail "$name: not KillMode=mixed"
  grep -q '^Delegate=yes$' "$tmp/$name" || fail "$name: no Delegate=yes"
  grep -q '^WatchdogSec=' "$tmp/$name" || fail "$name: no WatchdogSec="
done

# Negative controls, on the first unit.
first=$(basename "${units[0]}")
copy_unit "${units[0]}" "broken-$first"
sed -i 's/^KillMode=/KilMode=/' "$tmp/broken-$first"
if [[ -z $(verify_output "$tmp/broken-$first") ]]; then
  fail "verify said nothing about a misspelt key (KilMode=): the check cannot fail"
else
  echo "ok: verify speaks about a misspelt key"
fi
# Everything after the "# Hardening." comment up to [Install] removed.
sed '/^# Hardening\./,/^\[Install\]/{/^\[Install\]/!d}' "$tmp/$first" >"$tmp/bare-$first"
bare=$(exposure "$tmp/bare-$first")
if [[ -z $bare ]] || at_most "$bare" "$max_exposure"; then
  fail "the unit without its hardening scores '$bare', not above $max_exposure: the check cannot fail"
else
  echo "ok: without its hardening the unit scores $bare"
fi

((failures == 0)) || { echo "$failures failure(s)"; exit 1; }
echo "all systemd unit checks passed"
