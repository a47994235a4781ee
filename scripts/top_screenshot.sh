#!/usr/bin/env bash
# Makes docs/top.png, the README's picture of `memvisor top`: a demo fleet (web: 2 instances, one
# of them growing; api: 1) runs for a few minutes so the leak rule has judged a span, tmux shows
# `memvisor top` in a 150x24 pane, capture-pane -e keeps its colours, aha (Debian's aha) turns
# them into HTML and headless Chromium photographs that. A documentation step, not a test.
#   scripts/top_screenshot.sh [build/memvisor] [seconds to run first, default 200]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
memvisor=$(realpath "${1:-$here/build/memvisor}")
wait_s=${2:-200}
for tool in tmux aha chromium; do
  command -v "$tool" >/dev/null || { echo "top_screenshot: $tool is not installed" >&2; exit 1; }
done
work=$(mktemp -d /tmp/memvisor-top-shot.XXXXXX)
state=$work/state
# web.1 grows by about 700 MiB/h (a list of 100 KB strings, one every half second); the others
# hold still.
cat > "$work/demo.toml" <<TOML
[service.web]
command = ["python3", "-c", "import os, time\nx = []\nwhile True:\n    if os.environ['MEMVISOR_INSTANCE'] == '1': x.append(bytearray(100000))\n    time.sleep(0.5)"]
instances = 2
interval = "500ms"
warn = "150MiB"
limit = "200MiB"
critical = "400MiB"
leak = { rate = "100MiB/h", warmup = "0s", action = "alert" }

[service.api]
command = ["python3", "-c", "import time\nb = bytearray(30000000)\nwhile True: time.sleep(1)"]
interval = "500ms"
limit = "100MiB"
TOML
"$memvisor" run "$work/demo.toml" --state-dir "$state" > "$work/memvisor.log" 2>&1 &
run_pid=$!
socket=memvisor-shot-$$
cleanup() {
  tmux -L "$socket" kill-server 2>/dev/null || true
  kill "$run_pid" 2>/dev/null && wait "$run_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
sleep 5
"$memvisor" restart api.1 --state-dir "$state" >/dev/null  # an event or two for the bottom
echo "top_screenshot: letting the demo run ${wait_s}s"
sleep "$wait_s"
tmux -u -L "$socket" -f /dev/null new-session -d -x 150 -y 24 -s shot \
  "env LANG=C.UTF-8 TERM=xterm-256color $memvisor top --state-dir $state; sleep 60"
tmux -L "$socket" set-option -g status off
sleep 4
# -N keeps trailing spaces (the reverse-video bars span the width). tmux writes "reverse, then
# default colour" where the colour changes with it; aha reverses the colour it had before, so the
# two are swapped (else the key bar takes the events' cyan).
tmux -L "$socket" capture-pane -e -N -p -t shot |
  sed 's/\x1b\[7m\x1b\[39m/\x1b[39m\x1b[7m/g' > "$work/top.ansi"
{
  echo '<!DOCTYPE html><html><head><meta charset="utf-8"><style>'
  echo 'body{margin:0;background:#1e1e1e;color:#d4d4d4}'
  echo 'pre{margin:0;padding:14px 16px;font:15px/1.25 "DejaVu Sans Mono",monospace}'
  echo '</style></head><body>'
  echo '<pre>'
  aha --black --no-header < "$work/top.ansi"
  echo '</pre></body></html>'
} > "$work/top.html"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,520 \
  --screenshot="$here/docs/top.png" "file://$work/top.html" 2>/dev/null
echo "top_screenshot: wrote $here/docs/top.png"
