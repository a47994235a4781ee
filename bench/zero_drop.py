#!/usr/bin/env python3
"""Zero-drop recycling: real servers under memvisor lose no request while they are recycled.

  python3 bench/zero_drop.py --memvisor build/memvisor [--small] [--only NAME ...]

For each server (the example configs: gunicorn, uvicorn, Node.js, gunicorn --workers 4 under prefork
= true, and web.toml's Python stdlib worker on restart) a pool of 2 instances shares a socket
memvisor owns on 127.0.0.1 and takes two bounded loads at once: hey without keep-alive (a new
connection per request, rate-limited with -q, -t timeout) and wrk with keep-alive (few connections,
a Lua delay() between requests, --timeout). During each run 20 recycles happen (--small: 4): by
`memvisor restart`, by a `requests` rule, by a `limit` rule on a worker that leaks on demand
(prefork: the workers are recycled by the limit rule, one by one). Each run must show 0 failed
requests (connect errors, resets, EOF, other errors, non-2xx, timeouts) and every old process gone
by its stop signal, none escalated to SIGTERM or SIGKILL (read from memvisor's events.jsonl). Two
negative controls must show failures, proving the harness sees a drop: old processes SIGKILLed
instead of drained (stop_signal = "SIGKILL"), and each instance on its own SO_REUSEPORT socket (no
`listen`). p99 and max latency during recycles are reported as ratios to the same load without
recycles. Without --small, the naive ways are measured too and only reported: gunicorn stopped with
SIGINT (memvisor's default stop signal), plain `uvicorn --fd 3`, Node.js stopped with
http.Server.close(), and gunicorn binding its own port per instance with --reuse-port.

Exit 0 when every server dropped nothing and both controls failed, 1 otherwise, 77 when a
package it needs is missing (gunicorn, python3-uvicorn, nodejs, hey, wrk). Each run gets a
fresh temp state dir; memvisor and the load are stopped at the end, even on error.
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
import tomllib
import urllib.request
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP = 77
RULE_KEYS = ("warn", "limit", "critical", "total", "leak", "age", "requests")

# The load: well below what a pool of two Python workers serves on a shared 2-core machine, so
# latency measures the recycles and not a saturated queue. hey: 4 workers x 25 requests/s, a new
# connection each; wrk: 4 keep-alive connections, each waiting 40 ms between requests.
HEY = ["-c", "4", "-q", "25", "-t", "5", "-disable-keepalive"]
WRK = ["-t", "1", "-c", "4", "--timeout", "5s"]
WRK_LUA = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non2xx = 0 end
function delay() return 40 end
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("non2xx") end
  local e = summary.errors
  io.write(string.format("zd requests %d non2xx %d connect %d read %d write %d timeout %d " ..
                         "p99_us %d max_us %d\\n", summary.requests, bad, e.connect, e.read,
                         e.write, e.timeout, latency:percentile(99), latency.max))
end
"""


@dataclass
class Server:
    config: str            # the example, relative to the repository
    limit: str             # the limit rule's size for the leak scenario (baseline + ~24 MiB)
    leak: int = 128 * 1024  # bytes kept per request in the leak scenario
    requests: int = 150    # the requests rule's max (per process)


SERVERS = {
    "gunicorn": Server("examples/gunicorn/gunicorn.toml", limit="56MiB"),
    "uvicorn": Server("examples/uvicorn/uvicorn.toml", limit="44MiB"),
    "node": Server("examples/node/node.toml", limit="64MiB"),
    "prefork": Server("examples/gunicorn/prefork.toml", limit="32MiB"),
    "python": Server("examples/web.toml", limit="-"),   # the README's first command
    "control": Server("examples/web.toml", limit="-"),
}


@dataclass
class Scenario:
    name: str
    server: str
    trigger: str = ""       # "": baseline (no recycles); restart | requests | limit | prefork
    expect: str = "none"    # none: no request may fail; drops: a control; info: only reported
    service: dict = field(default_factory=dict)  # keys set in the example's [service.web]
    remove: tuple = ()      # keys taken out of it
    env: dict = field(default_factory=dict)
    own_port: bool = False  # the load goes to PORT, where each instance binds its own socket


def scenarios(only, small):
    runs = []
    for name in ("gunicorn", "uvicorn", "node"):
        server = SERVERS[name]
        runs += [
            Scenario(f"{name}/baseline", name),
            Scenario(f"{name}/restart", name, "restart"),
            Scenario(f"{name}/requests", name, "requests",
                     service={"requests": {"max": server.requests, "jitter": server.requests // 5}}),
            Scenario(f"{name}/limit", name, "limit",
                     service={"limit": {"size": server.limit, "for": 1}},
                     env={"LEAK_BYTES_PER_REQUEST": str(server.leak)}),
        ]
    prefork = SERVERS["prefork"]
    runs += [
        Scenario("prefork/baseline", "prefork"),
        Scenario("prefork/limit", "prefork", "prefork",
                 service={"limit": {"size": prefork.limit, "for": 1}},
                 env={"LEAK_BYTES_PER_REQUEST": str(prefork.leak)}),
        # The README's own example, http_worker.py (50 ms per request, as the controls), drained
        # on SIGINT: an idle instance must not wait in accept() for its stop (it did once).
        Scenario("python/restart", "python", "restart", env={"WORK_MS": "50"}),
        # The controls: http_worker.py pausing 50 ms per request, so that requests are in flight.
        Scenario("control/sigkill", "control", "restart", expect="drops",
                 service={"stop_signal": "SIGKILL"}, env={"WORK_MS": "50"}),
        Scenario("control/reuseport", "control", "restart", expect="drops",
                 remove=("listen",), env={"WORK_MS": "50"}, own_port=True),
    ]
    if not small:  # the naive ways, reported for comparison
        runs += [
            Scenario("info/gunicorn-sigint", "gunicorn", "restart", expect="info",
                     service={"stop_signal": "SIGINT"}),
            Scenario("info/uvicorn-fd3", "uvicorn", "restart", expect="info",
                     service={"command": ["/usr/bin/python3", "-m", "uvicorn", "--fd", "3",
                                          "--app-dir", "examples/uvicorn", "--no-access-log",
                                          "app:app"], "ready": "immediate"}),
            Scenario("info/node-close", "node", "restart", expect="info",
                     env={"CLOSE_AT_ONCE": "1"}),
            Scenario("info/gunicorn-reuseport", "gunicorn", "restart", expect="info",
                     remove=("listen",), own_port=True,
                     service={"command": ["gunicorn", "--chdir", "examples/gunicorn", "--workers", "2",
                                          "--reuse-port", "--bind", "127.0.0.1:{port}", "app:app"]}),
        ]
    return [s for s in runs if not only or any(o in s.name for o in only)]


# ---- configuration -------------------------------------------------------------------------

def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string takes JSON's escapes
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def write_config(scenario, port, path):
    """The example's [service.web] with this run's port, rules and environment."""
    with open(os.path.join(REPO, SERVERS[scenario.server].config), "rb") as f:
        service = tomllib.load(f)["service"]["web"]
    for key in RULE_KEYS + scenario.remove:
        service.pop(key, None)
    service.update(instances=2, interval="100ms", startup_timeout="30s")
    if "listen" not in scenario.remove:
        service["listen"] = [f"127.0.0.1:{port}"]
    service.update(json.loads(json.dumps(scenario.service).replace("{port}", str(port))))
    env = dict(service.get("env", {}), **scenario.env)
    if scenario.own_port:
        env["PORT"] = str(port)
    service["env"] = env
    with open(path, "w") as f:
        f.write("[service.web]\n")
        f.writelines(f"{key} = {toml_value(value)}\n" for key, value in service.items())
    return service


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- memvisor and the load -----------------------------------------------------------------

def stop_process(process, signo, timeout):
    """Signals `process`, waits; SIGKILLs its whole group (its own session) if it is still there."""
    if process.poll() is None:
        process.send_signal(signo)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()


class Memvisor:
    def __init__(self, binary, config, state_dir, log_path):
        self.binary, self.state_dir = binary, state_dir
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(
            [binary, "run", config, "--state-dir", state_dir], cwd=REPO, stdin=subprocess.DEVNULL,
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def events(self, name=None):
        try:
            with open(os.path.join(self.state_dir, "events.jsonl")) as f:
                lines = [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []
        return [e for e in lines if name is None or e.get("event") == name]

    def wait_until(self, condition, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            if self.process.poll() is not None:
                raise RuntimeError(f"memvisor exited with {self.process.returncode}")
            time.sleep(0.05)
        return False

    def restart(self, target):
        subprocess.run([self.binary, "restart", target, "--state-dir", self.state_dir], cwd=REPO,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)

    def stop(self):
        stop_process(self.process, signal.SIGTERM, 60)
        self.log.close()


@dataclass
class LoadResult:
    requests: int = 0
    failures: dict = field(default_factory=dict)  # kind -> count
    p99_ms: float = float("nan")
    max_ms: float = float("nan")

    @property
    def failed(self):
        return sum(self.failures.values())


def parse_hey(text):
    """hey's summary: the status code and error distributions, p99 and the slowest request."""
    result = LoadResult()
    for code, count in re.findall(r"\[(\d+)\]\s+(\d+) responses", text):
        result.requests += int(count)
        if not 200 <= int(code) <= 299:
            result.failures[f"http {code}"] = result.failures.get(f"http {code}", 0) + int(count)
    errors = text.split("Error distribution:", 1)[1] if "Error distribution:" in text else ""
    for count, message in re.findall(r"\[(\d+)\]\s+(.*)", errors):
        kind = ("reset" if "reset by peer" in message else
                "eof" if "EOF" in message else
                "refused" if "refused" in message else
                "timeout" if "Timeout" in message or "deadline" in message else "other")
        result.requests += int(count)
        result.failures[kind] = result.failures.get(kind, 0) + int(count)
    p99 = re.search(r"99% in ([\d.]+) secs", text)
    slowest = re.search(r"Slowest:\s+([\d.]+) secs", text)
    if p99:
        result.p99_ms = float(p99.group(1)) * 1000
    if slowest and result.requests:
        result.max_ms = float(slowest.group(1)) * 1000
    return result


def parse_wrk(text):
    """The line our Lua done() writes: requests, errors by kind, p99 and max latency."""
    line = re.search(r"^zd (.*)$", text, re.M)
    if not line:
        raise RuntimeError("wrk printed no summary:\n" + text)
    values = dict(zip(*[iter(line.group(1).split())] * 2))
    result = LoadResult(requests=int(values["requests"]))
    for kind in ("non2xx", "connect", "read", "write", "timeout"):
        if int(values[kind]):
            result.failures[kind] = int(values[kind])
    result.p99_ms = int(values["p99_us"]) / 1000
    result.max_ms = int(values["max_us"]) / 1000
    return result


class Load:
    """hey and wrk against `url` at once, each for at most `cap` seconds."""

    def __init__(self, work, url, cap):
        lua = os.path.join(work, "zero_drop.lua")
        with open(lua, "w") as f:
            f.write(WRK_LUA)
        self.outputs = {tool: open(os.path.join(work, f"{tool}.txt"), "w+") for tool in ("hey", "wrk")}
        self.processes = {
            "hey": subprocess.Popen(["hey", "-z", f"{cap}s", *HEY, url], stdout=self.outputs["hey"],
                                    stderr=subprocess.STDOUT, start_new_session=True),
            "wrk": subprocess.Popen(["wrk", "-d", f"{cap}s", *WRK, "-s", lua, url],
                                    stdout=self.outputs["wrk"], stderr=subprocess.STDOUT,
                                    start_new_session=True),
        }

    def stop(self):
        """Stops both (SIGINT: each prints its report) and parses what they printed."""
        for process in self.processes.values():
            stop_process(process, signal.SIGINT, 30)
        results = {}
        for tool, output in self.outputs.items():
            output.seek(0)
            text = output.read()
            output.close()
            results[tool] = parse_hey(text) if tool == "hey" else parse_wrk(text)
        return results


# ---- one run -------------------------------------------------------------------------------

@dataclass
class Outcome:
    scenario: Scenario
    load: dict
    recycles: int = 0
    target: int = 0
    reasons: dict = field(default_factory=dict)
    exits: dict = field(default_factory=dict)  # how each old process went: "code 0" -> count
    bad_exits: list = field(default_factory=list)
    problems: list = field(default_factory=list)


def recycles_of(memvisor, trigger):
    """The recycles finished so far: memvisor's `recycled` events, of instances (the old process
    is gone) or, for prefork, of children (gone, and the master has forked its replacement)."""
    return [e for e in memvisor.events("recycled") if ("child" in e) == (trigger == "prefork")]


def drive(scenario, memvisor, target, deadline):
    """Makes `target` recycles happen (restart) or waits for the rules to make them."""
    if scenario.trigger == "restart":
        for i in range(target):
            done = len(recycles_of(memvisor, scenario.trigger))
            memvisor.restart(f"web.{1 + i % 2}")
            if not memvisor.wait_until(
                    lambda: len(recycles_of(memvisor, scenario.trigger)) > done,
                    max(1, deadline - time.monotonic())):
                return
            time.sleep(0.3)
    else:
        before = len(recycles_of(memvisor, scenario.trigger))
        memvisor.wait_until(lambda: len(recycles_of(memvisor, scenario.trigger)) >= before + target,
                            max(1, deadline - time.monotonic()))


def judge_children(outcome, events, first, log_path):
    """Every child a prefork rule recycled under the measured load: gone after prefork_signal
    alone. memvisor does not reap a child (its master does): a SIGKILL after prefork_timeout is a
    `stopping` event, a child that never went or was never replaced a `recycle_failed`, and how
    a child died by a signal is in gunicorn's log ("Worker with pid N was terminated due to
    signal S")."""
    killed = {e.get("child") for e in events if e.get("event") == "stopping" and "child" in e}
    failed = [e for e in events[first:] if e.get("event") == "recycle_failed" and "child" in e]
    with open(log_path) as log:
        by_signal = {int(pid): int(signo) for pid, signo in
                     re.findall(r"Worker with pid (\d+) was terminated due to signal (\d+)", log.read())}
    for recycled in (e for e in events[first:] if e.get("event") == "recycled" and "child" in e):
        outcome.reasons[recycled.get("reason")] = outcome.reasons.get(recycled.get("reason"), 0) + 1
        child = recycled["child"]
        how = f"signal {signal.Signals(by_signal[child]).name}" if child in by_signal else "exit"
        outcome.exits[how] = outcome.exits.get(how, 0) + 1
        if child in killed or how == "signal SIGKILL":
            outcome.bad_exits.append(f"child {child}: {how}, SIGKILL after prefork_timeout")
    outcome.bad_exits += [f"child {e['child']}: recycle_failed: {e.get('message')}" for e in failed]


def judge_exits(outcome, events, first, stop_signal):
    """Every old process of a recycle under the measured load (events from `first` on): stopped
    with the stop signal alone, gone by it."""
    escalated = {e.get("pid") for e in events if e.get("event") == "stop_escalated"}
    exited = {e.get("pid"): e for e in events if e.get("event") == "exited"}
    for recycled in (e for e in events[first:] if e.get("event") == "recycled" and "child" not in e):
        outcome.reasons[recycled.get("reason")] = outcome.reasons.get(recycled.get("reason"), 0) + 1
        pid = recycled.get("old_pid")
        exit_event = exited.get(pid, {})
        how = (f"signal {exit_event['signal']}" if "signal" in exit_event
               else f"code {exit_event.get('code', '?')}")
        outcome.exits[how] = outcome.exits.get(how, 0) + 1
        clean = how == "code 0" or how == f"signal {stop_signal}"
        if pid in escalated or not clean or how == "signal SIGKILL":
            outcome.bad_exits.append(f"pid {pid}: {how}" + (" after escalation" if pid in escalated else ""))


class Unsupported(Exception):
    """This memvisor does not know a key the scenario needs (a feature not merged yet)."""


def run(scenario, args, work):
    port = free_port()
    config = os.path.join(work, "memvisor.toml")
    service = write_config(scenario, port, config)
    check = subprocess.run([args.memvisor, "check", config], cwd=REPO, capture_output=True,
                           text=True)
    if check.returncode != 0:
        if "unknown key" in check.stderr:
            raise Unsupported(check.stderr.strip().split(": ", 1)[-1])
        raise RuntimeError(check.stderr.strip())
    memvisor = Memvisor(args.memvisor, config, os.path.join(work, "state"),
                        os.path.join(work, "memvisor.log"))
    load = None
    target = 0 if not scenario.trigger else (4 if args.small else 20)
    try:
        if not memvisor.wait_until(lambda: len(memvisor.events("ready")) >= 2, 60):
            raise RuntimeError("the pool was not ready within 60 s")
        url = f"http://127.0.0.1:{port}/"
        if not wait_serving(url, 20):
            raise RuntimeError(f"{url} does not answer")
        # Warm-up, not measured: a process's first requests are slow (imports, Node's JIT) and
        # would weigh on a short baseline's p99.
        load = Load(work, url, 10)
        time.sleep(1 if args.small else 2)
        load.stop()
        baseline = 4 if args.small else 10
        cap = baseline if not scenario.trigger else (40 if args.small else 90)
        started = time.monotonic()
        first_event = len(memvisor.events())
        load = Load(work, url, cap + 5)
        if scenario.trigger:
            drive(scenario, memvisor, target, started + cap)
            time.sleep(1)  # the last old process has drained; the load sees the pool settled
        else:
            time.sleep(baseline)
        results = load.stop()
        load = None
        events = memvisor.events()
    finally:
        if load:
            load.stop()
        memvisor.stop()
    outcome = Outcome(scenario, results, target=target)
    if scenario.trigger == "prefork":
        judge_children(outcome, events, first_event, os.path.join(work, "memvisor.log"))
    else:
        judge_exits(outcome, events, first_event, service.get("stop_signal", "SIGINT"))
    outcome.recycles = sum(outcome.reasons.values())
    if outcome.recycles < target:
        outcome.problems.append(f"only {outcome.recycles} of {target} recycles")
    return outcome


def wait_serving(url, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.1)
    return False


# ---- report --------------------------------------------------------------------------------

def verdict(outcome):
    failed = sum(r.failed for r in outcome.load.values())
    if outcome.scenario.expect == "info":
        return "info"
    if outcome.scenario.expect == "drops":
        return "ok (drops seen)" if failed else "FAIL: saw no drop"
    if failed or outcome.bad_exits or outcome.problems:
        return "FAIL"
    return "ok"


def ratio(value, base):
    if base is None or base != base or value != value or base <= 0:
        return "-"
    return f"{value / base:.1f}"


def report(outcomes):
    baselines = {o.scenario.server: o.load for o in outcomes if not o.scenario.trigger}
    header = ("scenario", "tool", "recycles", "requests", "failed", "p99 ms", "max ms", "p99 x",
              "max x", "old processes", "result")
    rows = [header]
    for o in outcomes:
        if not o.load:  # the run itself failed
            rows.append((o.scenario.name, "-", "-", "-", "-", "-", "-", "-", "-", "-", verdict(o)))
        for tool, r in o.load.items():
            base = baselines.get(o.scenario.server, {}).get(tool)
            failed = str(r.failed) + (" (" + ", ".join(f"{k} {v}" for k, v in r.failures.items()) + ")"
                                      if r.failed else "")
            exits = ", ".join(f"{v} {k}" for k, v in o.exits.items()) or "-"
            rows.append((o.scenario.name, tool, str(o.recycles) if o.scenario.trigger else "-",
                         str(r.requests), failed, f"{r.p99_ms:.1f}", f"{r.max_ms:.1f}",
                         ratio(r.p99_ms, base.p99_ms if base and o.scenario.trigger else None),
                         ratio(r.max_ms, base.max_ms if base and o.scenario.trigger else None),
                         exits, verdict(o) if tool == "hey" else ""))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    for o in outcomes:
        for line in o.bad_exits + o.problems:
            print(f"{o.scenario.name}: {line}")


def missing_packages():
    missing = [tool for tool in ("gunicorn", "node", "hey", "wrk") if not shutil.which(tool)]
    if subprocess.run(["/usr/bin/python3", "-c", "import uvicorn"],
                      stderr=subprocess.DEVNULL).returncode != 0:
        missing.append("python3-uvicorn")
    return missing


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--memvisor", default="build/memvisor")
    parser.add_argument("--small", action="store_true", help="4 recycles per run, shorter loads")
    parser.add_argument("--only", nargs="*", default=[], help="runs whose name contains one of these")
    parser.add_argument("--keep", action="store_true", help="keep the temp dirs (configs, logs)")
    args = parser.parse_args()
    args.memvisor = os.path.abspath(args.memvisor)
    missing = missing_packages()
    if missing:
        print(f"zero_drop: skipped, missing: {' '.join(missing)} (scripts/setup installs them)")
        return SKIP
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # the finally blocks still clean up

    outcomes, skipped = [], []
    root = tempfile.mkdtemp(prefix="zero-drop-")
    try:
        for scenario in scenarios(args.only, args.small):
            work = os.path.join(root, scenario.name.replace("/", "-"))
            os.makedirs(work)
            print(f"zero_drop: {scenario.name} ...", flush=True)
            try:
                outcomes.append(run(scenario, args, work))
            except Unsupported as error:
                print(f"zero_drop: {scenario.name}: skipped, this memvisor does not support it: {error}")
                skipped.append(scenario.name)
            except RuntimeError as error:
                print(f"zero_drop: {scenario.name}: {error}\n--- memvisor.log (tail)", flush=True)
                with open(os.path.join(work, "memvisor.log")) as log:
                    print("".join(log.readlines()[-30:]))
                outcomes.append(Outcome(scenario, {}, problems=[str(error)]))
    finally:
        if args.keep:
            print(f"zero_drop: runs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print()
    report(outcomes)
    for name in skipped:
        print(f"{name}: skipped (this memvisor lacks a key it needs)")
    bad = [o for o in outcomes if verdict(o).startswith("FAIL")]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
