#!/usr/bin/env python3
"""Scale: one memvisor watching 1,000 instances at `interval = 1s`, quiet and then under 100
concurrent control clients and /metrics scraped 10 times a second.

Services: `idle`, N workers (`sleep`) sampled every second with a pss limit that never fires, and
`probe`, one bench/reaction_worker under `limit = { size = "32MiB", for = 1 }` at 100 ms with
`surge = false`, which crosses its limit over and over: its reaction times (crossing to stop
signal, measured by the worker itself, see bench/reaction_time.py) are the rules' timing. Phases
of --seconds each (--phases, default quiet,loaded), the same memvisor:
  quiet:  status (over the control socket) and /metrics asked once a second, for their latency;
  loaded: --clients threads asking `status` back to back (a new connection each time) and a
          scraper fetching /metrics every 100 ms;
  views:  `memvisor top` running in a tmux pane and the dashboard page open in headless Chromium.
Reports, per phase: controller and supervisor CPU (and µs per instance-sample), PSS, status and
/metrics latency (median, p99), the reaction times (median, p90), refused control connections.

  bench/scale.py --memvisor build/memvisor --worker build/bench/reaction_worker [--instances 1000]
  bench/scale.py --instances 50 --phases quiet,views,quiet,views     # the live views' cost
"""
import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

TICKS = os.sysconf("SC_CLK_TCK")


def percentile(values, p):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def pss_bytes(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    return 0


def control(path, request, timeout=30):
    """One request on a new connection: (seconds, reply). A full listen backlog (EAGAIN: a Unix
    socket does not wait for room) is retried, as `memvisor status` does, and counted in."""
    begin = time.monotonic()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        while True:
            try:
                s.connect(path)
                break
            except BlockingIOError:
                if time.monotonic() - begin > timeout:
                    raise
                time.sleep(0.005)
        try:
            s.sendall((json.dumps(request) + "\n").encode())
        except BrokenPipeError:
            pass  # refused (too many clients): the reason is waiting to be read
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            data += chunk
    return time.monotonic() - begin, json.loads(data) if data else {}


def scrape(url):
    begin = time.monotonic()
    body = urllib.request.urlopen(url, timeout=30).read()
    return time.monotonic() - begin, len(body)


class Reactions(threading.Thread):
    """Reads memvisor's output: the probe worker's `reaction` lines, stamped with the phase."""

    def __init__(self, stream, log):
        super().__init__(daemon=True)
        self.stream, self.log, self.phase, self.times = stream, log, "start", {}

    def run(self):
        for line in self.stream:
            if self.log:
                self.log.write(line)
                self.log.flush()
            if "reaction " in line:
                try:
                    cross, _, signalled = map(int, line.split("reaction ", 1)[1].split())
                except ValueError:
                    continue  # another line that happens to say "reaction"
                self.times.setdefault(self.phase, []).append((signalled - cross) / 1e6)


class Views:
    """What an operator watching live adds: `memvisor top` in a tmux pane (refreshing every
    second over the control socket) and the dashboard page in a headless Chromium (polling its
    JSON every 2 s)."""

    def __init__(self, memvisor, state_dir, port, work):
        self.tmux = ["tmux", "-L", f"memvisor-scale-{os.getpid()}", "-f", "/dev/null"]
        subprocess.run(self.tmux + ["new-session", "-d", "-x", "160", "-y", "50",
                                    f"{memvisor} top --state-dir {state_dir}"], check=True)
        self.browser = subprocess.Popen(
            ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={work}/chromium", "--remote-debugging-port=0",
             f"http://127.0.0.1:{port}/"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def close(self):
        subprocess.run(self.tmux + ["kill-server"], check=False)
        self.browser.terminate()
        self.browser.wait(timeout=30)


def measure(phase, args, memvisor, supervisor, sock, url, reactions, load):
    stop = threading.Event()
    refused, load_requests, threads = [0], [0], []
    lock = threading.Lock()

    def client():
        while not stop.is_set():
            try:
                _, reply = control(sock, {"id": 1, "cmd": "status"})
                with lock:
                    load_requests[0] += 1
                    refused[0] += reply.get("code") == "too_many_clients"
            except OSError:
                with lock:
                    refused[0] += 1

    def scraper():
        while not stop.is_set():
            scrape(url)
            stop.wait(0.1)

    if load:
        threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
        threads.append(threading.Thread(target=scraper, daemon=True))
        for t in threads:
            t.start()
    reactions.phase = phase
    cpu0 = {p: cpu_seconds(p) for p in (memvisor, supervisor)}
    begin = time.monotonic()
    status_s, metrics_s = [], []
    refused_ours = 0
    while time.monotonic() - begin < args.seconds:
        # Asked again when refused for too many clients, as an operator would: the latency
        # counts from the first try.
        asked = time.monotonic()
        while control(sock, {"id": 2, "cmd": "status"})[1].get("code") == "too_many_clients":
            refused_ours += 1
        status_s.append((time.monotonic() - asked) * 1000)
        metrics_s.append(scrape(url)[0] * 1000)
        time.sleep(1)
    elapsed = time.monotonic() - begin
    cpu = {p: cpu_seconds(p) - cpu0[p] for p in cpu0}
    stop.set()
    for t in threads:
        t.join(timeout=60)
    reactions.phase = "between"
    samples = args.instances * elapsed  # interval 1s
    rs = reactions.times.get(phase, [])
    return {
        "phase": phase,
        "seconds": round(elapsed, 1),
        "controller_cpu_pct": round(100 * cpu[memvisor] / elapsed, 2),
        "supervisor_cpu_pct": round(100 * cpu[supervisor] / elapsed, 2),
        "supervisor_us_per_instance_sample": round(1e6 * cpu[supervisor] / samples, 1),
        "controller_pss_mib": round(pss_bytes(memvisor) / 2**20, 1),
        "supervisor_pss_mib": round(pss_bytes(supervisor) / 2**20, 1),
        "status_ms": {"median": round(statistics.median(status_s), 1),
                      "p99": round(percentile(status_s, 99), 1)},
        "metrics_ms": {"median": round(statistics.median(metrics_s), 1),
                       "p99": round(percentile(metrics_s, 99), 1)},
        "reactions": len(rs),
        "reaction_ms": {"median": round(statistics.median(rs), 1) if rs else None,
                        "p90": round(percentile(rs, 90), 1) if rs else None},
        "load_status_requests": load_requests[0],
        "load_refused": refused[0],
        "status_refused_then_retried": refused_ours,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--memvisor", default="build/memvisor")
    parser.add_argument("--worker", default="build/bench/reaction_worker")
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--log", help="write memvisor's output here")
    parser.add_argument("--phases", default="quiet,loaded",
                        help="comma-separated, in order: quiet, loaded (control clients and "
                        "scrapes), views (memvisor top in tmux and the dashboard in Chromium)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="memvisor-scale-") as work:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        config = os.path.join(work, "scale.toml")
        with open(config, "w") as f:
            f.write(f'[supervisor]\nstate_dir = "{work}/state"\nhttp = "127.0.0.1:{port}"\n\n'
                    f'[service.idle]\ncommand = ["sleep", "86400"]\ninstances = {args.instances}\n'
                    'interval = "1s"\nmetric = "pss"\nlimit = "1GiB"\n\n'
                    f'[service.probe]\ncommand = {json.dumps([os.path.abspath(args.worker), "32"])}\n'
                    'interval = "100ms"\nmetric = "pss"\nlimit = { size = "32MiB", for = 1 }\n'
                    'surge = false\n')
        proc = subprocess.Popen([os.path.abspath(args.memvisor), "run", config],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        reactions = Reactions(proc.stdout, open(args.log, "w") if args.log else None)
        reactions.start()
        sock, url = f"{work}/state/control.sock", f"http://127.0.0.1:{port}/metrics"
        try:
            begin = time.monotonic()
            ready = 0
            while ready < args.instances + 1:
                if time.monotonic() - begin > 600 or proc.poll() is not None:
                    sys.exit(f"scale: only {ready} instances ready")
                time.sleep(1)
                try:
                    status = control(sock, {"id": 0, "cmd": "status"})[1].get("status", {})
                    ready = sum(s.get("ready", 0) for s in status.get("services", []))
                except OSError:
                    pass
            started_s = time.monotonic() - begin
            supervisor = status["supervisor_pid"]
            time.sleep(5)  # let the first rollup reads pass
            phases = []
            for i, name in enumerate(args.phases.split(",")):
                views = Views(os.path.abspath(args.memvisor), f"{work}/state", port,
                              work) if name == "views" else None
                try:
                    phases.append(measure(f"{i + 1}:{name}", args, proc.pid, supervisor, sock,
                                          url, reactions, name == "loaded"))
                finally:
                    if views:
                        views.close()
            result = {"instances": args.instances, "clients": args.clients,
                      "all_ready_after_s": round(started_s, 1), "phases": phases}
            print(json.dumps(result, indent=2))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=300)


if __name__ == "__main__":
    main()
