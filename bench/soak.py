#!/usr/bin/env python3
"""Soak: memvisor recycling short-lived workers thousands of times, watched for its own leaks.

memvisor runs N workers (`sleep`, each in a cgroup of its own when the machine allows it) that
the `age` rule recycles every ~1-1.5 s, sampled every 100 ms, with /metrics and `status` asked
each minute, until R recycles have happened. Every minute (--every) it records the controller's
and the supervisor's PSS, open descriptors, threads and CPU time. At the end:
  - the least-squares slope of each series per hour after the first --settle seconds (start-up:
    the first rollup reads, buffers sized to the fleet), and the CPU share of each minute;
  - memvisor's own leak rule pointed at memvisor: the supervisor's and the controller's PSS
    series replayed through `memvisor replay --leak RATE` (no decision expected);
  - what was left behind once memvisor stopped: worker processes, zombies seen at two samples
    in a row, the run's cgroup, files in the state dir other than the logs.
Prints one JSON document; exits 1 when something was left behind or the leak rule fired.

  bench/soak.py --memvisor build/memvisor [--instances 20] [--recycles 10000] [--every 60]
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

TICKS = os.sysconf("SC_CLK_TCK")
MARK = "MEMVISOR_SOAK_RUN"


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def stat_fields(pid):
    raw = read(f"/proc/{pid}/stat").decode(errors="replace")
    return raw.rsplit(")", 1)[1].split() if raw else []


def children_of(ppid):
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = stat_fields(entry)
            if fields and int(fields[1]) == ppid:
                out.append((int(entry), fields[0], read(f"/proc/{entry}/cmdline")))
    return out


def probe(pid):
    """PSS, USS, RSS and anonymous bytes (the controller shares its pages with each child it has
    forked and not yet exec'd, so its PSS and USS jump; RSS and anonymous do not), open descriptors, threads and CPU seconds of one process."""
    pss = uss = rss = anon = 0
    for line in read(f"/proc/{pid}/smaps_rollup").decode().splitlines():
        if line.startswith("Pss:"):
            pss = int(line.split()[1]) * 1024
        elif line.startswith("Rss:"):
            rss = int(line.split()[1]) * 1024
        elif line.startswith("Anonymous:"):
            anon = int(line.split()[1]) * 1024
        elif line.startswith(("Private_Clean:", "Private_Dirty:")):
            uss += int(line.split()[1]) * 1024
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        fds = 0
    fields = stat_fields(pid)
    cpu = (int(fields[11]) + int(fields[12])) / TICKS if fields else 0
    threads = int(fields[17]) if fields else 0
    return {"pss": pss, "uss": uss, "rss": rss, "anon": anon, "fds": fds, "threads": threads, "cpu_s": cpu}


def slope_per_hour(ts, ys):
    n = len(ts)
    if n < 2:
        return 0.0
    tm, ym = sum(ts) / n, sum(ys) / n
    sxx = sum((t - tm) ** 2 for t in ts)
    return sum((t - tm) * (y - ym) for t, y in zip(ts, ys)) / sxx * 3600 if sxx else 0.0


def marked_processes(run_id):
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and f"{MARK}={run_id}".encode() in read(f"/proc/{entry}/environ"):
            pids.append(int(entry))
    return pids


def count_recycles(events_path, offset, count):
    """Recycles in events.jsonl since `offset` (rotation is off in this run)."""
    with open(events_path, "rb") as f:
        f.seek(offset)
        data = f.read()
    end = data.rfind(b"\n") + 1
    count += sum(1 for line in data[:end].splitlines() if b'"event":"recycled"' in line)
    return offset + end, count


def replay_leak(memvisor, work, name, series, rate):
    path = os.path.join(work, f"{name}.csv")
    with open(path, "w") as f:
        f.write("t_s,bytes\n")
        for t, y in series:
            f.write(f"{t:.1f},{y}\n")
    out = subprocess.run([memvisor, "replay", "--leak", rate, "--leak-warmup", "5m", path],
                         capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines() if '"rule":"leak"' in line]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--memvisor", default="build/memvisor")
    parser.add_argument("--instances", type=int, default=20)
    parser.add_argument("--recycles", type=int, default=10000)
    parser.add_argument("--every", type=float, default=60, help="seconds between probes")
    parser.add_argument("--leak-rate", default="1MiB/h", help="memvisor's rule pointed at itself")
    parser.add_argument("--max-minutes", type=float, default=60)
    parser.add_argument("--settle", type=float, default=120,
                        help="seconds of start-up left out of the slopes and the leak rule")
    args = parser.parse_args()
    memvisor = os.path.abspath(args.memvisor)
    run_id = str(os.getpid())

    with tempfile.TemporaryDirectory(prefix="memvisor-soak-") as work:
        port = 0
        with __import__("socket").socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        config = os.path.join(work, "soak.toml")
        with open(config, "w") as f:
            f.write(f'[supervisor]\nstate_dir = "{work}/state"\nhttp = "127.0.0.1:{port}"\n'
                    'events_max_size = "0"\n\n'
                    f'[service.soak]\ncommand = ["sleep", "86400"]\ninstances = {args.instances}\n'
                    f'interval = "100ms"\ncgroup = true\nage = {{ max = "1s", jitter = "500ms" }}\n'
                    f'max_recycling = {args.instances}\nenv = {{ {MARK} = "{run_id}" }}\n')
        log = open(os.path.join(work, "memvisor.log"), "wb")
        proc = subprocess.Popen([memvisor, "run", config], stdout=log, stderr=subprocess.STDOUT)
        start = time.monotonic()
        supervisor = None
        while supervisor is None and time.monotonic() - start < 60:
            time.sleep(0.2)
            supervisor = next((p for p, _, c in children_of(proc.pid) if b"supervise" in c), None)
        metrics_url = f"http://127.0.0.1:{port}/metrics"
        while supervisor is not None and time.monotonic() - start < 60:
            try:
                urllib.request.urlopen(metrics_url, timeout=5).read()
                break
            except OSError:
                time.sleep(0.2)
        else:
            proc.kill()
            sys.exit("soak: the supervisor did not start")
        events = os.path.join(work, "state", "events.jsonl")
        offset, recycles = 0, 0
        samples, zombies_seen, lingering_zombies = [], set(), 0
        deadline = start + args.max_minutes * 60
        next_probe = time.monotonic()
        while recycles < args.recycles and time.monotonic() < deadline:
            time.sleep(max(0.0, next_probe - time.monotonic()))
            next_probe += args.every
            t = time.monotonic() - start
            offset, recycles = count_recycles(events, offset, recycles)
            body = urllib.request.urlopen(metrics_url, timeout=5).read()
            status = subprocess.run([memvisor, "status", "--state-dir", f"{work}/state"],
                                    capture_output=True, timeout=10)
            zombies = {p for p, state, _ in children_of(proc.pid) if state == "Z"}
            lingering_zombies = max(lingering_zombies, len(zombies & zombies_seen))
            zombies_seen = zombies
            sample = {"t_s": round(t, 1), "recycles": recycles,
                      "controller": probe(proc.pid), "supervisor": probe(supervisor),
                      "metrics_bytes": len(body), "status_ok": status.returncode == 0}
            samples.append(sample)
            print(json.dumps(sample), file=sys.stderr, flush=True)
        cgroup = [line.split(":")[2] for line in read(f"/proc/{proc.pid}/cgroup").decode()
                  .splitlines() if ":memory:" in line]
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
        elapsed = time.monotonic() - start
        time.sleep(1)
        left_workers = marked_processes(run_id)
        run_cgroup = (f"/sys/fs/cgroup/memory{cgroup[0]}/memvisor.{proc.pid}" if cgroup else "")
        left_files = sorted(
            os.path.relpath(os.path.join(d, n), f"{work}/state")
            for d, _, names in os.walk(f"{work}/state") for n in names
            if not n.startswith("events.jsonl") and not n.endswith(".log"))

        settled = [s for s in samples if s["t_s"] >= args.settle] or samples

        def series(who, key):
            return [s["t_s"] for s in settled], [s[who][key] for s in settled]

        result = {"instances": args.instances, "recycles": recycles,
                  "elapsed_s": round(elapsed, 1), "recycles_per_s": round(recycles / elapsed, 1),
                  "probes": len(samples), "settled_probes": len(settled), "exit_code": code}
        for who in ("controller", "supervisor"):
            ts, pss = series(who, "pss")
            _, uss = series(who, "uss")
            _, rss = series(who, "rss")
            _, anon = series(who, "anon")
            _, fds = series(who, "fds")
            _, threads = series(who, "threads")
            _, cpu = series(who, "cpu_s")
            shares = [(c2 - c1) / (t2 - t1) for t1, t2, c1, c2 in zip(ts, ts[1:], cpu, cpu[1:])]
            result[who] = {
                "pss_first_kib": pss[0] // 1024, "pss_last_kib": pss[-1] // 1024,
                "pss_slope_kib_per_h": round(slope_per_hour(ts, pss) / 1024, 1),
                "uss_first_kib": uss[0] // 1024, "uss_last_kib": uss[-1] // 1024,
                "uss_slope_kib_per_h": round(slope_per_hour(ts, uss) / 1024, 1),
                "rss_first_kib": rss[0] // 1024, "rss_last_kib": rss[-1] // 1024,
                "rss_slope_kib_per_h": round(slope_per_hour(ts, rss) / 1024, 1),
                "anon_first_kib": anon[0] // 1024, "anon_last_kib": anon[-1] // 1024,
                "anon_slope_kib_per_h": round(slope_per_hour(ts, anon) / 1024, 1),
                "fds_first": fds[0], "fds_last": fds[-1],
                "fds_slope_per_h": round(slope_per_hour(ts, fds), 2),
                "threads_max": max(threads),
                "cpu_share_first": round(shares[0], 4) if shares else None,
                "cpu_share_last": round(shares[-1], 4) if shares else None,
                "cpu_share_slope_per_h": round(slope_per_hour(ts[1:], shares), 4),
                "leak_rule_decisions_pss": replay_leak(memvisor, work, f"{who}-pss",
                                                       list(zip(ts, pss)), args.leak_rate),
                "leak_rule_decisions_rss": replay_leak(memvisor, work, f"{who}-rss",
                                                       list(zip(ts, rss)), args.leak_rate),
            }
        result["left_behind"] = {
            "worker_processes": left_workers,
            "zombies_at_two_probes_in_a_row": lingering_zombies,
            "run_cgroup_exists": bool(run_cgroup) and os.path.exists(run_cgroup),
            "state_files": left_files,
        }
        print(json.dumps(result, indent=2))
        bad = (left_workers or lingering_zombies or result["left_behind"]["run_cgroup_exists"]
               or any(result[w][f"leak_rule_decisions_{m}"] for w in ("controller", "supervisor")
                       for m in ("pss", "rss")))
        sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
