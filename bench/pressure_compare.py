#!/usr/bin/env python3
"""Memory pressure in a memory cgroup: memvisor's rules, earlyoom and systemd-oomd side by side.

  sudo python3 bench/pressure_compare.py --memvisor build/memvisor [--duration 60]
                                         [--only none,pressure,limit,earlyoom,oomd]

Each scenario runs the same pool in a fresh memory cgroup (cgroup v1 memory.limit_in_bytes, or
v2 memory.max) of --limit-mib: `memvisor run` with 3 instances of bench/pressure_worker.py on one
socket memvisor holds (restart = always), each request reading a random chunk of a 64 MiB file
whose page cache is the pool's working set, under a closed-loop load of --clients threads (a new
connection per request, 5 s timeout). Instance 3 runs away at --runaway-mib-s from the start. As
it grows the page cache is squeezed (refaults: tasks stall on memory, which PSI measures), then
the cgroup runs out and the kernel's OOM killer strikes, unless something acts first:

  none      memvisor without memory rules: the kernel's OOM killer decides (memvisor restarts)
  pressure  memvisor's [supervisor] pressure rule (--pressure-some of a 2 s window, host PSI)
  limit     memvisor's per-instance limit rule (--limit-rule-mib, for 2 samples at 500ms)
  earlyoom  no memvisor rule; earlyoom -m 10 -s 100 -r 0 runs beside it (Debian's earlyoom)
  earlyoom-dryrun  the same with -m 99 --dryrun: a threshold the host is always below, to see
            whom earlyoom would pick (the whole machine's largest oom_score; nothing is killed)
  oomd      systemd-oomd: tried, and its refusal recorded (it needs systemd as PID 1 and cgroup v2)

Reported per scenario: what was killed or recycled and by whom (memvisor's events.jsonl, the
earlyoom log), requests ok and failed, capacity lost (instance-seconds not ready, from `memvisor
status` every 0.5 s), and how long pressure lasted (seconds in which the host's PSI `some` share,
from /proc/pressure/memory totals, was at least 10%; and the total stall). Needs root; exit 77
when a tool is missing, 0 otherwise. Writes the table to stdout and --json FILE.
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP = 77


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cgroup:
    """A memory cgroup with a hard limit, on v1 or v2."""

    def __init__(self, name, limit_bytes):
        v2 = "memory" in open_or("/sys/fs/cgroup/cgroup.controllers")
        self.path = ("/sys/fs/cgroup/" if v2 else "/sys/fs/cgroup/memory/") + name
        os.mkdir(self.path)
        self.v2 = v2
        limit_file = "memory.max" if v2 else "memory.limit_in_bytes"
        with open(os.path.join(self.path, limit_file), "w") as f:
            f.write(str(limit_bytes))

    def usage(self):
        name = "memory.current" if self.v2 else "memory.usage_in_bytes"
        return int(open_or(os.path.join(self.path, name), "0"))

    def join(self):  # in the child, before exec
        with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))

    def remove(self):
        for _ in range(50):
            pids = open_or(os.path.join(self.path, "cgroup.procs")).split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                os.rmdir(self.path)
                return
            except OSError:
                time.sleep(0.1)


def open_or(path, default=""):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def psi_some_total_us():
    for line in open_or("/proc/pressure/memory").splitlines():
        if line.startswith("some "):
            return int(line.rsplit("total=", 1)[1])
    return 0


class Load:
    """Closed-loop clients: a new connection per GET /, 5 s timeout; ok, failed, latencies."""

    def __init__(self, port, clients):
        self.port, self.ok, self.failed, self.latencies = port, 0, 0, []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(clients)]

    def run(self):
        while not self.stop.is_set():
            start = time.monotonic()
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                c.request("GET", "/")
                r = c.getresponse()
                r.read()
                c.close()
                good = r.status == 200
            except (OSError, http.client.HTTPException):
                good = False
            with self.lock:
                if good:
                    self.ok += 1
                    self.latencies.append(time.monotonic() - start)
                else:
                    self.failed += 1
            if not good:
                time.sleep(0.05)  # a refused connect would otherwise spin

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(10)


def config(args, scenario, port, data, state):
    worker = os.path.join(REPO, "bench", "pressure_worker.py")
    text = ""
    if scenario == "pressure":
        text += ('[supervisor]\npressure = {{ some = "{}%", window = "2s", action = "recycle", '
                 'pick = "largest" }}\n').format(args.pressure_some)
    text += f"""[service.web]
command = ["python3", "{worker}"]
instances = 3
listen = ["127.0.0.1:{port}"]
ready = "notify"
stop_signal = "SIGTERM"
stop_timeout = "5s"
interval = "500ms"
restart_delay = "500ms"
env = {{ DATA = "{data}", RUNAWAY_INSTANCE = "3", RUNAWAY_MIB_S = "{args.runaway_mib_s}" }}
"""
    if scenario == "limit":
        text += f'limit = {{ size = "{args.limit_rule_mib}MiB", for = 2, metric = "rss" }}\n'
    path = os.path.join(state, "pool.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


def ready_count(memvisor, state):
    r = subprocess.run([memvisor, "status", "--json", "--state-dir", state], capture_output=True,
                       text=True, timeout=5)
    try:
        status = json.loads(r.stdout)
    except json.JSONDecodeError:
        return 0
    return sum(1 for i in status.get("instances", []) if i.get("state") == "running"
               and i.get("ready", True))


def try_oomd():
    binary = next((p for p in ("/usr/lib/systemd/systemd-oomd", "/lib/systemd/systemd-oomd")
                   if os.path.exists(p)), None)
    if binary is None:
        return {"scenario": "oomd", "ran": False,
                "why": "systemd-oomd is not installed (apt-get install systemd-oomd)"}
    r = subprocess.run([binary], capture_output=True, text=True, timeout=10)
    pid1 = open_or("/proc/1/comm").strip()
    return {"scenario": "oomd", "ran": False, "exit_code": r.returncode,
            "output": (r.stdout + r.stderr).strip(), "pid1": pid1,
            "cgroup_v2": "memory" in open_or("/sys/fs/cgroup/cgroup.controllers")}


def run_scenario(args, scenario, data):
    state = tempfile.mkdtemp(prefix=f"mv-pressure-{scenario}-")
    port = free_port()
    # The file's pages are charged to whoever reads them first: drop them so the pool's cgroup
    # pays for its working set.
    fd = os.open(data, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
    cg = Cgroup(f"mv-pressure-bench-{scenario}-{os.getpid()}", args.limit_mib << 20)
    log = open(os.path.join(state, "memvisor.log"), "w")
    memvisor = subprocess.Popen([args.memvisor, "run", "--state-dir", state,
                                 config(args, scenario, port, data, state)],
                                stdout=log, stderr=subprocess.STDOUT, preexec_fn=cg.join)
    earlyoom = None
    if scenario.startswith("earlyoom"):
        elog = open(os.path.join(state, "earlyoom.log"), "w")
        thresholds = ["-m", "99", "--dryrun"] if scenario == "earlyoom-dryrun" else ["-m", "10"]
        earlyoom = subprocess.Popen(["earlyoom", *thresholds, "-s", "100", "-r", "0"],
                                    stdout=elog, stderr=subprocess.STDOUT)
    result = {"scenario": scenario, "ran": True}
    try:
        deadline = time.monotonic() + 30
        while ready_count(args.memvisor, state) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        load = Load(port, args.clients)
        start = time.monotonic()
        load.start()
        lost = 0.0
        stall_s, pressure_s = 0.0, 0.0
        peak = 0
        last_t, last_total = time.monotonic(), psi_some_total_us()
        while time.monotonic() - start < args.duration:
            time.sleep(0.5)
            now, total = time.monotonic(), psi_some_total_us()
            dt = now - last_t
            share = (total - last_total) / 1e6 / dt if dt > 0 else 0
            stall_s += (total - last_total) / 1e6
            if share >= 0.10:
                pressure_s += dt
            last_t, last_total = now, total
            lost += (3 - min(3, ready_count(args.memvisor, state))) * dt
            peak = max(peak, cg.usage())
        load.finish()
        lat = sorted(load.latencies)
        result.update({
            "ok": load.ok, "failed": load.failed,
            "p50_ms": round(1000 * statistics.median(lat), 1) if lat else None,
            "p99_ms": round(1000 * lat[int(0.99 * (len(lat) - 1))], 1) if lat else None,
            "capacity_lost_instance_s": round(lost, 1),
            "pressure_s": round(pressure_s, 1), "stall_s": round(stall_s, 2),
            "peak_cgroup_mib": round(peak / (1 << 20), 1),
        })
    finally:
        if earlyoom:
            earlyoom.terminate()
            earlyoom.wait(10)
        memvisor.send_signal(signal.SIGTERM)
        try:
            memvisor.wait(30)
        except subprocess.TimeoutExpired:
            memvisor.kill()
        cg.remove()
    events = []
    for line in open_or(os.path.join(state, "events.jsonl")).splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    acts = []
    for e in events:
        unit = f"{e.get('service')}.{e.get('instance')}"
        if e.get("event") == "exited" and e.get("reason") not in (None, "shutdown", "stop",
                                                                 "recycle"):
            acts.append(f"{unit} exited: {e.get('reason')}")
        elif e.get("event") == "recycle":
            acts.append(f"{unit} recycled: {e.get('reason')}")
    result["actions"] = acts
    result["pressure_events"] = sum(1 for e in events if e.get("event") == "pressure")
    if earlyoom:
        lines = open_or(os.path.join(state, "earlyoom.log")).splitlines()
        result["earlyoom_kills"] = [l for l in lines if " to process " in l]
        result["earlyoom_first_lines"] = lines[:3]
    if not args.keep:
        shutil.rmtree(state, ignore_errors=True)
    else:
        result["state_dir"] = state
    return result


def summarize(actions):
    counts = {}
    for a in actions:
        what = a.split(" ", 1)[1]
        counts[what] = counts.get(what, 0) + 1
    return ", ".join(f"{n}x {what}" for what, n in sorted(counts.items())) or "nothing"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--memvisor", default=os.path.join(REPO, "build", "memvisor"))
    p.add_argument("--only", default="none,pressure,limit,earlyoom,oomd")
    p.add_argument("--duration", type=float, default=75)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--limit-mib", type=int, default=256)
    p.add_argument("--runaway-mib-s", type=float, default=6)
    p.add_argument("--pressure-some", type=float, default=5)
    p.add_argument("--limit-rule-mib", type=int, default=120)
    p.add_argument("--json")
    p.add_argument("--keep", action="store_true", help="keep each scenario's state dir")
    args = p.parse_args()
    if os.geteuid() != 0:
        print("needs root (a memory cgroup of its own)", file=sys.stderr)
        return SKIP
    if not os.path.exists("/proc/pressure/memory"):
        print("needs PSI (/proc/pressure/memory)", file=sys.stderr)
        return SKIP
    scenarios = args.only.split(",")
    if any(s.startswith("earlyoom") for s in scenarios) and shutil.which("earlyoom") is None:
        print("earlyoom missing: apt-get install earlyoom", file=sys.stderr)
        return SKIP
    tmp = tempfile.mkdtemp(prefix="mv-pressure-data-")
    data = os.path.join(tmp, "data.bin")
    with open(data, "wb") as f:
        f.write(os.urandom(64 << 20))
        f.flush()
        os.fsync(f.fileno())  # clean pages, so each scenario's POSIX_FADV_DONTNEED drops them
    results = []
    try:
        for scenario in scenarios:
            result = try_oomd() if scenario == "oomd" else run_scenario(args, scenario, data)
            results.append(result)
            print(json.dumps(result), file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("| scenario | killed / recycled | requests ok | failed | capacity lost (instance-s) "
          "| pressure ≥10% (s) | stall (s) | peak cgroup (MiB) | p99 (ms) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        if not r["ran"]:
            why = (r.get('why') or r.get('output') or '').replace(chr(10), '; ')
            print(f"| {r['scenario']} | did not run: {why} "
                  "| | | | | | | |")
            continue
        killed = summarize(r["actions"])
        if r.get("earlyoom_kills"):
            victims = sorted({l.split('"')[1] for l in r["earlyoom_kills"] if '"' in l})
            killed += f"; earlyoom: {len(r['earlyoom_kills'])} signal(s) to {', '.join(victims)}"
        elif r["scenario"].startswith("earlyoom"):
            killed += "; earlyoom: none"
        print(f"| {r['scenario']} | {killed} | {r['ok']} | {r['failed']} | "
              f"{r['capacity_lost_instance_s']} | {r['pressure_s']} | {r['stall_s']} | "
              f"{r['peak_cgroup_mib']} | {r['p99_ms']} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
