#!/usr/bin/env python3
"""CPU cost of watching a fleet: memvisor's controller and supervisor, then monit, on the same
idle workers. See BENCHMARKS.md, "Measuring loop".

memvisor runs N idle workers (`sleep infinity`, or an idle python3 with --worker python) at
interval 1s, metric pss, with a limit rule; each worker writes its pid file first so that monit
can watch the very same processes (`set daemon 1`, one `check process` with a memory rule per
worker). CPU time comes from /proc/PID/stat (utime + stime, in clock ticks) and, finer, from
/proc/PID/schedstat (ns on CPU), over the same window for each watcher, so a busy machine slows
the wall clock but not the count.

  bench/fleet_cpu.py --memvisor build/memvisor [--instances 200] [--seconds 60] [--worker sleep]
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TICKS = os.sysconf("SC_CLK_TCK")

WORKERS = {
    "sleep": "exec sleep infinity",
    "python": "exec python3 -c 'import time\nwhile True: time.sleep(3600)'",
}


def cpu_seconds(pid):
    """(utime + stime in seconds, schedstat on-CPU seconds) of one process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15
    with open(f"/proc/{pid}/schedstat") as f:
        on_cpu_ns = int(f.read().split()[0])
    return ticks / TICKS, on_cpu_ns / 1e9


def children_of(ppid):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == ppid:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    found.append((int(entry), f.read().split(b"\0")))
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return found


def wait_for(what, check, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    sys.exit(f"fleet_cpu: timed out waiting for {what}")


def measure(pids, seconds):
    """CPU used by each pid over `seconds` of wall time: {pid: (stat_s, schedstat_s)}."""
    before = {pid: cpu_seconds(pid) for pid in pids}
    start = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - start
    after = {pid: cpu_seconds(pid) for pid in pids}
    return elapsed, {pid: tuple(a - b for a, b in zip(after[pid], before[pid])) for pid in pids}


def report(name, cpu, elapsed, samples):
    stat_s, sched_s = cpu
    print(
        f"{name:<22} cpu {stat_s:7.3f} s (stat)  {sched_s:7.3f} s (schedstat)  "
        f"{100 * sched_s / elapsed:6.3f} % of one core  "
        f"{1e6 * sched_s / samples:7.2f} us per instance-sample  "
        f"[stat: {100 * stat_s / elapsed:.3f} %, {1e6 * stat_s / samples:.2f} us]"
    )
    return sched_s


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--memvisor", default="build/memvisor")
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--worker", choices=sorted(WORKERS), default="sleep")
    parser.add_argument("--metric", default="pss")
    parser.add_argument("--no-monit", action="store_true")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="fleet-cpu-")
    pids_dir = os.path.join(work, "pids")
    os.mkdir(pids_dir)
    config = os.path.join(work, "fleet.toml")
    command = f"echo $$ > {pids_dir}/idle.$MEMVISOR_INSTANCE.pid; {WORKERS[args.worker]}"
    with open(config, "w") as f:
        f.write(
            f'[supervisor]\nstate_dir = "{work}/state"\n\n[service.idle]\n'
            f"command = {json.dumps(command)}\nshell = true\ninstances = {args.instances}\n"
            f'interval = "1s"\nmetric = "{args.metric}"\n'
            f'limit = {{ size = "500MiB", for = 3 }}\n'
        )
    log = open(os.path.join(work, "memvisor.log"), "w")
    memvisor = subprocess.Popen([args.memvisor, "run", config], stdout=log, stderr=log)
    monit = None
    try:
        pid_files = lambda: [os.path.join(pids_dir, n) for n in os.listdir(pids_dir)]
        wait_for(f"{args.instances} workers", lambda: len(pid_files()) == args.instances)
        wait_for("the supervisor", lambda: any(b"supervise" in c for _, c in children_of(memvisor.pid)))
        supervisor = next(p for p, c in children_of(memvisor.pid) if b"supervise" in c)
        time.sleep(args.warmup)

        samples = args.instances * args.seconds  # one sample per instance per second
        print(f"fleet: {args.instances} x {args.worker}, interval 1s, metric {args.metric}, "
              f"{args.seconds:.0f} s window, load {os.getloadavg()[0]:.2f}")
        elapsed, cpu = measure([memvisor.pid, supervisor], args.seconds)
        ours = report("memvisor controller", cpu[memvisor.pid], elapsed, samples)
        ours += report("memvisor supervisor", cpu[supervisor], elapsed, samples)
        total = tuple(a + b for a, b in zip(cpu[memvisor.pid], cpu[supervisor]))
        report("memvisor (both)", total, elapsed, samples)
        if args.no_monit:
            return

        monitrc = os.path.join(work, "monitrc")
        with open(monitrc, "w") as f:
            f.write(
                f"set daemon 1\nset logfile {work}/monit.log\nset pidfile {work}/monit.pid\n"
                f"set idfile {work}/monit.id\nset statefile {work}/monit.state\n\n"
            )
            for path in sorted(pid_files()):
                name = os.path.basename(path)[: -len(".pid")]
                f.write(
                    f"check process {name} with pidfile {path}\n"
                    f"  if memory > 500 MB for 3 cycles then alert\n"
                )
        os.chmod(monitrc, 0o600)
        monit = subprocess.Popen(["monit", "-I", "-c", monitrc], stdout=log, stderr=log)
        time.sleep(args.warmup)
        elapsed, cpu = measure([monit.pid], args.seconds)
        theirs = report("monit", cpu[monit.pid], elapsed, samples)
        print(f"monit / memvisor CPU ratio: {theirs / ours:.1f}")
        with open(os.path.join(work, "monit.log")) as f:
            errors = [line for line in f if "error" in line.lower()]
        print(f"monit log: {len(errors)} error lines" + (f", first: {errors[0].strip()}" if errors else ""))
    finally:
        if monit:
            monit.terminate()
            monit.wait()
        memvisor.send_signal(signal.SIGTERM)
        memvisor.wait(timeout=120)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
