#!/usr/bin/env python3
"""Supervisor kill campaign: `kill -9` of memvisor's supervisor, again and again, under load.

  python3 bench/supervisor_kills.py --memvisor build/memvisor [--small] [--json]

A fleet of 50 instances (--small: 10) of `sleep`, sampled every 100 ms under a leak rule (so each
process has a detector state and a series to checkpoint), with /metrics scraped continuously
(every 50 ms, 1 s timeout). The supervisor is killed with SIGKILL 100 times (--small: 10), 1.5 s
apart. Checked:
  - every worker keeps its pid: the instances' pids at the end are those at the start, all alive;
  - no worker event lost or invented: before the final stop, events.jsonl holds exactly one
    `started` per instance and no other event about a worker (no exit, restart, rule, recycle);
    after the stop, exactly one `exited` per instance, with the pid it started with;
  - each kill is seen by the controller (one `supervisor_exited`, reason crash, restart delay 0,
    then one `supervisor_started`), and no `supervisor_hung`;
  - /metrics is back within 2 s of each kill: the gap is from the kill to the first scrape that
    answers with memvisor_supervisor_restarts_total equal to the kill's number (the new
    supervisor, not a reply of the old one still in flight);
  - every new supervisor restored the checkpoint of every instance (its log line; the first one
    those the first supervisor had seen at its first round).
Reports the max, median and p90 gap. Exit 0 when everything holds, 1 otherwise.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_events(state):
    events = []
    try:
        with open(os.path.join(state, "events.jsonl")) as f:
            for line in f:
                try:
                    events.append(json.loads(line))
                except ValueError:
                    pass
    except FileNotFoundError:
        pass
    return events


class Scraper(threading.Thread):
    """GETs /metrics every `period` s; keeps (time, restarts_total) of each answer."""

    def __init__(self, url, period=0.05):
        super().__init__(daemon=True)
        self.url, self.period = url, period
        self.answers = []  # (monotonic time, restarts_total)
        self.failures = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=1) as reply:
                    body = reply.read().decode()
                m = re.search(r"^memvisor_supervisor_restarts_total (\d+)", body, re.M)
                self.answers.append((time.monotonic(), int(m.group(1)) if m else -1))
            except Exception:  # noqa: BLE001 - a refused or cut connection during a restart
                self.failures += 1
            self.stop.wait(self.period)


def instance_pids(events):
    pids = {}
    for e in events:
        if e.get("event") == "started" and e.get("service") == "web":
            pids[e["instance"]] = e["pid"]
    return pids


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--memvisor", required=True)
    ap.add_argument("--small", action="store_true", help="10 instances, 10 kills")
    ap.add_argument("--instances", type=int)
    ap.add_argument("--kills", type=int)
    ap.add_argument("--gap", type=float, default=1.5, help="seconds between kills")
    ap.add_argument("--json", action="store_true", help="one JSON summary line at the end")
    args = ap.parse_args()
    instances = args.instances or (10 if args.small else 50)
    kills = args.kills or (10 if args.small else 100)

    work = tempfile.mkdtemp(prefix="memvisor-kills-")
    state = os.path.join(work, "state")
    port = free_port()
    config = os.path.join(work, "fleet.toml")
    with open(config, "w") as f:
        f.write(f'[supervisor]\nhttp = "127.0.0.1:{port}"\n\n'
                f'[service.web]\ncommand = ["sleep", "3600"]\ninstances = {instances}\n'
                f'interval = "100ms"\nleak = "10MiB/h"\n')
    err_path = os.path.join(work, "memvisor.err")
    err = open(err_path, "w")
    proc = subprocess.Popen([os.path.abspath(args.memvisor), "run", config, "--state-dir", state],
                            stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    problems = []
    scraper = Scraper(f"http://127.0.0.1:{port}/metrics")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            events = read_events(state)
            if (len(instance_pids(events)) == instances and
                    any(e.get("event") == "supervisor_started" for e in events)):
                break
            time.sleep(0.1)
        else:
            raise SystemExit("the fleet did not start within 60 s")
        scraper.start()
        while not scraper.answers and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1)  # a few sampling rounds and the first checkpoint
        pids_before = instance_pids(read_events(state))

        kill_times = []
        for k in range(1, kills + 1):
            supervisors = [e for e in read_events(state) if e.get("event") == "supervisor_started"]
            if len(supervisors) != k:
                # The previous kill's supervisor has not started yet: wait for it (bounded).
                until = time.monotonic() + 5
                while len(supervisors) != k and time.monotonic() < until:
                    time.sleep(0.02)
                    supervisors = [e for e in read_events(state)
                                   if e.get("event") == "supervisor_started"]
            pid = supervisors[-1]["pid"]
            start = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            kill_times.append(start)
            time.sleep(max(0.0, start + args.gap - time.monotonic()))
        time.sleep(2.5)  # the last kill's /metrics gap
        scraper.stop.set()
        scraper.join()

        gaps = []
        for k, t in enumerate(kill_times, start=1):
            back = next((a for a, restarts in scraper.answers if a > t and restarts >= k), None)
            gaps.append(back - t if back is not None else float("inf"))
        events = read_events(state)
        pids_after = instance_pids(events)
        worker_events = [e for e in events if e.get("service") == "web"]
        not_started = [e for e in worker_events if e.get("event") not in ("started", "ready")]
        if pids_after != pids_before:
            problems.append("instance pids changed")
        if not all(alive(p) for p in pids_after.values()):
            problems.append("a worker is not alive")
        if len([e for e in worker_events if e.get("event") == "started"]) != instances:
            problems.append("a worker was started more than once")
        if not_started:
            problems.append(f"{len(not_started)} unexpected worker events, e.g. {not_started[0]}")
        exits = [e for e in events if e.get("event") == "supervisor_exited"]
        starts = [e for e in events if e.get("event") == "supervisor_started"]
        if len(exits) != kills or len(starts) != kills + 1:
            problems.append(f"{len(exits)} supervisor exits and {len(starts)} starts for {kills} kills")
        if any(e.get("reason") != "crash" or e.get("restart_delay_ms") != 0 for e in exits):
            problems.append("a supervisor restart was delayed or not a crash")
        if any(e.get("event") == "supervisor_hung" for e in events):
            problems.append("a supervisor was taken for hung")
        if max(gaps) > 2.0:
            problems.append(f"/metrics not back within 2 s after {sum(g > 2 for g in gaps)} kills")
        err.flush()
        restored = re.findall(r"restored the rules' history of (\d+) process", open(err_path).read())
        # The first supervisor wrote its checkpoint after its first round, maybe before any
        # instance had been measured (the next one is 30 s later): the first restart restores
        # those it saw, none on a busy machine; every later one restores them all.
        full = sum(1 for r in restored[1:] if int(r) == instances)
        if len(restored) != kills or full != kills - 1:
            problems.append(f"{full} of {kills - 1} later supervisors restored all {instances} "
                            f"processes ({len(restored)} restores)")

        checkpoint_bytes = os.path.getsize(os.path.join(state, "checkpoint.bin"))
        # The stop: each instance exits once, with the pid it started with.
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        events = read_events(state)
        exited = {}
        for e in events:
            if e.get("event") == "exited" and e.get("service") == "web":
                exited.setdefault(e["instance"], []).append(e["pid"])
        if {i: [p] for i, p in pids_before.items()} != exited:
            problems.append("the stop's exit events do not match the workers started")

        finite = [g for g in gaps if g != float("inf")]
        summary = {
            "instances": instances, "kills": kills, "gap_s": args.gap,
            "metrics_gap_max_ms": round(max(gaps) * 1000, 1),
            "metrics_gap_median_ms": round(statistics.median(finite) * 1000, 1) if finite else None,
            "metrics_gap_p90_ms": round(sorted(finite)[int(0.9 * (len(finite) - 1))] * 1000, 1)
            if finite else None,
            "scrapes": len(scraper.answers), "scrape_failures": scraper.failures,
            "restores_of_all": full, "checkpoint_bytes": checkpoint_bytes, "workers_kept_pid": pids_after == pids_before,
            "problems": problems,
        }
        print(f"{kills} kills of the supervisor, {args.gap} s apart, {instances} instances at "
              f"100 ms: /metrics back after max {summary['metrics_gap_max_ms']} ms, median "
              f"{summary['metrics_gap_median_ms']} ms, p90 {summary['metrics_gap_p90_ms']} ms; "
              f"{len(scraper.answers)} scrapes answered, {scraper.failures} failed during restarts; "
              f"{full}/{kills - 1} later restarts restored every instance's checkpoint")
        for p in problems:
            print("FAIL:", p)
        if args.json:
            print(json.dumps(summary))
        if problems:
            print("kept for inspection:", work)
            return 1
        shutil.rmtree(work, ignore_errors=True)
        return 0
    finally:
        scraper.stop.set()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        err.close()


if __name__ == "__main__":
    sys.exit(main())
