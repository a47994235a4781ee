#!/usr/bin/env python3
"""`memvisor top` against a real memvisor (2 services, 3 instances), driven in a real terminal:
tmux (Debian's tmux) runs it in a 160x40 pane, `send-keys` presses its keys and `capture-pane`
reads the screen. Checked: a row per instance, values refresh (web.1's pid after `memvisor
restart web.1`), `s` changes the order, the filter shows one service, `q` and SIGTERM leave the
alternate screen for the shell prompt with the process gone; the plain snapshot when stdout is a
pipe; and, as the negative control, a stopped memvisor gives the message, in the view and as
exit 1 in plain mode, never a crash.

    top_tmux_test.py --memvisor build/memvisor
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

FAILURES = []


def check(ok, what):
    print(("ok:   " if ok else "FAIL: ") + what, flush=True)
    if not ok:
        FAILURES.append(what)
    return ok


def eventually(predicate, timeout=20.0):
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value or time.time() >= deadline:
            return value
        time.sleep(0.2)


class Tmux:
    def __init__(self, work):
        # A server of our own (-L), so nothing of the user's tmux is touched; killed at the end.
        self.socket = f"memvisor-top-{os.getpid()}"
        self.env = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8", HOME=work)
        self.env.pop("TMUX", None)

    def run(self, *args, check_rc=True):
        result = subprocess.run(["tmux", "-u", "-L", self.socket, "-f", "/dev/null", *args],
                                capture_output=True, text=True, env=self.env, timeout=20)
        if check_rc and result.returncode != 0:
            raise RuntimeError(f"tmux {args}: {result.stderr}")
        return result.stdout

    def start(self):
        # A plain shell with a prompt we can recognise, in a 160x40 window.
        self.run("new-session", "-d", "-x", "160", "-y", "40", "-s", "t",
                 "env PS1='top-test$ ' bash --norc --noprofile -i")
        self.run("set-option", "-g", "status", "off")
        eventually(lambda: "top-test$" in self.capture())

    def keys(self, *keys):
        self.run("send-keys", "-t", "t", *keys)

    def type_line(self, text):
        self.run("send-keys", "-t", "t", "-l", text)
        self.run("send-keys", "-t", "t", "Enter")

    def capture(self, colours=False):
        return self.run("capture-pane", "-p", "-t", "t", *(["-e"] if colours else []))

    def alternate_on(self):
        return self.run("display-message", "-p", "-t", "t", "#{alternate_on}").strip() == "1"

    def kill(self):
        self.run("kill-server", check_rc=False)


def unit_rows(screen):
    """The units in the table, top to bottom: lines starting with SERVICE.N."""
    return [m.group(1) for m in re.finditer(r"^(\w+\.\d+(?:/\d+)?)\s", screen, re.M)]


def row_of(screen, unit):
    for line in screen.splitlines():
        if line.startswith(unit + " "):
            return line.split()
    return None


def status(memvisor, state_dir):
    result = subprocess.run([memvisor, "status", "--json", "--state-dir", state_dir],
                            capture_output=True, text=True, timeout=20)
    try:
        return json.loads(result.stdout)
    except ValueError:
        return {}


def control(state_dir, request):
    """One request on the control socket, its reply."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(os.path.join(state_dir, "control.sock"))
        sock.sendall((json.dumps(request) + "\n").encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data)


def top_pids(state_dir):
    """Pids of `memvisor top` processes watching this state dir (to signal by pid, one of ours)."""
    result = subprocess.run(["pgrep", "-f", f"top --state-dir {state_dir}"], capture_output=True,
                            text=True)
    return [int(p) for p in result.stdout.split()]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--memvisor", required=True)
    args = parser.parse_args()
    memvisor = os.path.abspath(args.memvisor)
    if shutil.which("tmux") is None:
        print("tmux is not installed (Debian package tmux; scripts/setup installs it)")
        return 1
    work = tempfile.mkdtemp(prefix="memvisor-top-")
    state_dir = os.path.join(work, "state")
    config = os.path.join(work, "top.toml")
    with open(config, "w") as f:
        f.write('[service.web]\ncommand = ["sleep", "100000"]\ninstances = 2\ninterval = "200ms"\n'
                'warn = "100MiB"\nlimit = "500MiB"\ncritical = "1GiB"\n\n'
                '[service.api]\ncommand = ["sleep", "100000"]\ninterval = "200ms"\n')
    log = open(os.path.join(work, "memvisor.log"), "w")
    run = subprocess.Popen([memvisor, "run", config, "--state-dir", state_dir], stdout=log,
                           stderr=subprocess.STDOUT)
    tmux = Tmux(work)
    top_cmd = f"{memvisor} top --state-dir {state_dir} --interval 300ms"
    try:
        ready = eventually(lambda: sum(s.get("ready", 0) for s in
                                       status(memvisor, state_dir).get("services", [])) == 3, 30)
        if not check(ready, "memvisor runs 2 services, 3 instances"):
            return 1

        # The `series` command top reads: web's two instances, their samples and sizes.
        series = eventually(lambda: (lambda r: r if r.get("ok") and all(
            len(u["values"]) >= 5 for u in r["series"]) else None)(
                control(state_dir, {"cmd": "series", "target": "web", "points": 5})))
        check(bool(series), f"series answers with samples: {series}")
        if series:
            units = series["series"]
            check([u["unit"] for u in units] == ["web.1", "web.2"], f"series units: {units}")
            check(all(len(u["values"]) == 5 == len(u["t"]) for u in units), "points = 5 kept")
            check(all(u["limit"] == 500 << 20 and u["critical"] == 1 << 30 and u["metric"] ==
                      "pss" for u in units), "series carries the sizes and the metric")
        missing = control(state_dir, {"cmd": "series", "target": "nope"})
        check(missing.get("code") == "not_found", f"series of an unknown service: {missing}")

        # Plain mode: stdout is a pipe.
        plain = subprocess.run([memvisor, "top", "--state-dir", state_dir], capture_output=True,
                               text=True, timeout=30, env=dict(os.environ, LANG="C.UTF-8"))
        check(plain.returncode == 0, f"plain snapshot exits 0 ({plain.returncode}: {plain.stderr})")
        check(set(unit_rows(plain.stdout)) == {"web.1", "web.2", "api.1"},
              f"plain snapshot has every instance row: {unit_rows(plain.stdout)}")
        check("\x1b" not in plain.stdout, "plain snapshot has no escape codes")
        check("RECENT" in plain.stdout and "%LIMIT" in plain.stdout and "Latest events" in
              plain.stdout, "plain snapshot has the columns and the events")
        once = subprocess.run([memvisor, "top", "--once", "--service", "api", "--state-dir",
                               state_dir], capture_output=True, text=True, timeout=30)
        check(unit_rows(once.stdout) == ["api.1"], f"--service api: {unit_rows(once.stdout)}")
        # A service it does not run: said, exit 2 (it was an empty table, exit 0).
        none = subprocess.run([memvisor, "top", "--once", "--service", "nosuch", "--state-dir",
                               state_dir], capture_output=True, text=True, timeout=30)
        check(none.returncode == 2 and "no service 'nosuch'" in none.stderr and
              "web, api" in none.stderr, f"--service nosuch: {none.returncode} {none.stderr!r}")
        print(plain.stdout)

        # The live view in a real terminal.
        tmux.start()
        tmux.type_line(top_cmd)
        screen = eventually(lambda: (lambda s: s if {"web.1", "web.2", "api.1"} <=
                                     set(unit_rows(s)) else "")(tmux.capture()))
        check(bool(screen), "every instance row on screen")
        check(tmux.alternate_on(), "top runs on the alternate screen")
        check("sort: memory" in screen, "sorted by memory at first")
        check(any(c in screen for c in "▁▂▃▄▅▆▇█"), "UTF-8 sparklines under a UTF-8 locale")
        web1 = " ".join(row_of(screen, "web.1") or [])
        check(re.search(r"\s\d+%\s", web1) is not None, f"web.1 shows % of its limit: {web1}")
        print(screen)
        old_pid = (row_of(screen, "web.1") or ["", "", "0"])[2]

        # Refresh: restart web.1; its row shows the new pid without any key.
        subprocess.run([memvisor, "restart", "web.1", "--state-dir", state_dir],
                       capture_output=True, timeout=60)
        new_pid = eventually(lambda: (lambda r: r[2] if r and r[2] not in (old_pid, "-") and
                                      r[1] == "running" else None)(row_of(tmux.capture(), "web.1")))
        check(bool(new_pid), f"web.1's pid refreshes after a restart ({old_pid} -> {new_pid})")

        # s: memory -> growth -> name -> restarts. By name api.1 is first; by restarts web.1 is.
        tmux.keys("s")
        check(bool(eventually(lambda: "sort: growth" in tmux.capture(), 15)), "s: sort by growth")
        tmux.keys("s")
        by_name = eventually(lambda: (lambda s: unit_rows(s) if "sort: name" in s else None)(
            tmux.capture()), 15)
        check(by_name == ["api.1", "web.1", "web.2"], f"s: sorted by name: {by_name}")
        tmux.keys("s")
        by_restarts = eventually(lambda: (lambda s: unit_rows(s) if "sort: restarts" in s else
                                          None)(tmux.capture()), 15)
        check(bool(by_restarts) and by_restarts[0] == "web.1",
              f"s: sorted by restarts, web.1 (restarted once) first: {by_restarts}")
        tmux.keys("S")
        check(bool(eventually(lambda: "sort: name" in tmux.capture(), 15)), "S: back to name")

        # Filter: f, type the service, Enter.
        tmux.keys("f")
        check(bool(eventually(lambda: "filter by service" in tmux.capture(), 15)), "f: prompt")
        tmux.run("send-keys", "-t", "t", "-l", "api")
        tmux.keys("Enter")
        only_api = eventually(lambda: (lambda s: unit_rows(s) if "service: api" in s else None)(
            tmux.capture()), 15)
        check(only_api == ["api.1"], f"filter api shows only api: {only_api}")
        tmux.keys("/")
        tmux.keys("BSpace", "BSpace", "BSpace", "Enter")
        back = eventually(lambda: (lambda s: unit_rows(s) if len(unit_rows(s)) == 3 else None)(
            tmux.capture()), 15)
        check(bool(back), f"an empty filter shows every service again: {back}")
        with open(os.path.join(work, "screen.ansi"), "w") as f:
            f.write(tmux.capture(colours=True))

        # q: the terminal is restored (normal screen, the prompt), the process gone.
        tmux.keys("q")
        check(bool(eventually(lambda: not tmux.alternate_on(), 10)), "q leaves the alternate screen")
        check(bool(eventually(lambda: not top_pids(state_dir), 10)), "q: the process is gone")
        tmux.type_line("echo top-exit=$?")
        after = eventually(lambda: (lambda s: s if "top-exit=0" in s else "")(tmux.capture()), 10)
        check(bool(after), "q exits 0 back to the shell")
        check(not unit_rows(after), "after q the table is gone from the screen (normal screen)")
        print(after)

        # SIGTERM: the same clean exit.
        tmux.type_line(top_cmd)
        check(bool(eventually(lambda: "web.1" in tmux.capture() and tmux.alternate_on())),
              "top runs again")
        pids = top_pids(state_dir)
        check(len(pids) == 1, f"one top process: {pids}")
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        check(bool(eventually(lambda: not tmux.alternate_on(), 10)),
              "SIGTERM leaves the alternate screen")
        check(bool(eventually(lambda: not top_pids(state_dir), 10)), "SIGTERM: the process is gone")

        # Negative control: memvisor stopped. The view says so and keeps retrying; Ctrl-C quits.
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=60)
        plain = subprocess.run([memvisor, "top", "--state-dir", state_dir], capture_output=True,
                               text=True, timeout=30)
        check(plain.returncode == 1, f"plain mode with memvisor stopped exits 1 ({plain.returncode})")
        check(f"memvisor not running in {state_dir}" in plain.stderr,
              f"plain mode says memvisor is not running: {plain.stderr.strip()}")
        tmux.type_line("clear")
        tmux.type_line(top_cmd)
        down = eventually(lambda: (lambda s: s if "memvisor not running in" in s else "")(
            tmux.capture()))
        check(bool(down), "the view says memvisor is not running")
        time.sleep(1)  # a few refreshes: still there, still retrying
        check(bool(top_pids(state_dir)) and "retrying" in tmux.capture(),
              "the view keeps retrying, no crash")
        tmux.keys("C-c")
        check(bool(eventually(lambda: not tmux.alternate_on(), 10)), "Ctrl-C restores the screen")
        check(bool(eventually(lambda: not top_pids(state_dir), 10)), "Ctrl-C: the process is gone")
    finally:
        tmux.kill()
        if run.poll() is None:
            run.send_signal(signal.SIGTERM)
            try:
                run.wait(timeout=60)
            except subprocess.TimeoutExpired:
                run.kill()
        for pid in top_pids(state_dir):
            os.kill(pid, signal.SIGKILL)
    if FAILURES:
        # memvisor's log first, the failed checks last: a CI excerpt shows the end of the output.
        log.flush()
        with open(os.path.join(work, "memvisor.log")) as f:
            print(f.read()[-4000:])
        print(f"top_tmux_test: {len(FAILURES)} check(s) failed:")
        for what in FAILURES:
            print("FAIL: " + what[:400])
        return 1
    print("top_tmux_test: every check passed")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
