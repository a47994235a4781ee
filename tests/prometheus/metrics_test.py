#!/usr/bin/env python3
"""The series the Prometheus rules need, from a real memvisor: a worker recycled for its limit
counts in memvisor_instance_recycles_total (and restarts), a crashing one only in restarts and
opens its circuit (memvisor_instance_circuit_state, consecutive failures); the configured limit
is memvisor_service_memory_threshold_bytes with the kind it reads; killing the supervisor counts
in memvisor_supervisor_restarts_total; and the exposition passes `promtool check metrics`.

Usage: metrics_test.py --memvisor PATH [--source DIR]
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

from common import free_port, parse_args, stop


def samples(text):
    """{'name{labels}': value} of an exposition."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def main():
    args = parse_args()
    source = args.source
    tmp = tempfile.mkdtemp(prefix="memvisor-metrics-")
    port = free_port()
    worker = os.path.join(source, "tests", "prometheus", "worker.py")
    config = os.path.join(tmp, "memvisor.toml")
    with open(config, "w") as f:
        f.write(f"""[supervisor]
http = "127.0.0.1:{port}"

[service.grow]
command = ["python3", "{worker}", "leak", "20"]
interval = "200ms"
limit = {{ size = "60MiB", for = 2 }}
critical = {{ size = "1GiB", metric = "rss" }}

[service.crash]
command = ["python3", "-c", "import sys; sys.exit(3)"]
restart_delay = "100ms"
circuit_failures = 3
""")
    proc = subprocess.Popen([os.path.abspath(args.memvisor), "run", "--state-dir",
                             os.path.join(tmp, "state"), config],
                            stdout=open(os.path.join(tmp, "memvisor.log"), "w"),
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    failures = []

    def scrape():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            return r.read().decode()

    def wait_for(what, test, timeout=60):
        end = time.monotonic() + timeout
        last = ""
        while time.monotonic() < end:
            if proc.poll() is not None:
                raise SystemExit(f"FAIL: memvisor exited ({proc.returncode})")
            try:
                last = scrape()
                if test(samples(last)):
                    return last
            except OSError:
                pass
            time.sleep(0.3)
        raise SystemExit(f"FAIL: never saw {what}; last /metrics:\n{last}")

    try:
        recycled = 'memvisor_instance_recycles_total{service="grow",instance="1",reason="limit"}'
        opened = 'memvisor_instance_circuit_state{service="crash",instance="1",state="open"}'
        text = wait_for("a limit recycle and an open circuit",
                        lambda s: s.get(recycled, 0) >= 1 and s.get(opened) == 1)
        s = samples(text)
        expect = {
            'memvisor_instance_restarts_total{service="grow",instance="1",reason="limit"}':
                lambda v: v is not None and v >= s[recycled],
            'memvisor_instance_restarts_total{service="crash",instance="1",reason="crash"}':
                lambda v: v is not None and v >= 2,
            'memvisor_instance_circuit_state{service="crash",instance="1",state="closed"}':
                lambda v: v == 0,
            'memvisor_instance_circuit_state{service="grow",instance="1",state="closed"}':
                lambda v: v == 1,
            'memvisor_instance_consecutive_failures{service="crash",instance="1"}':
                lambda v: v == 3,
            'memvisor_service_memory_threshold_bytes{service="grow",rule="limit",kind="pss"}':
                lambda v: v == 60 * 2**20,
            'memvisor_service_memory_threshold_bytes{service="grow",rule="critical",kind="rss"}':
                lambda v: v == 2**30,
            'memvisor_supervisor_restarts_total': lambda v: v == 0,
        }
        for key, ok in expect.items():
            if not ok(s.get(key)):
                failures.append(f"{key} is {s.get(key)}")
        if any(k.startswith("memvisor_instance_recycles_total{service=\"crash\"") for k in s):
            failures.append("a crash counted as a recycle")
        lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                              text=True)
        if lint.returncode != 0:
            failures.append(f"promtool check metrics: {lint.stdout}{lint.stderr}")

        # The supervisor dies; the controller starts another and counts it.
        supervisor = subprocess.run(["pgrep", "-P", str(proc.pid), "-f", " supervise "],
                                    capture_output=True, text=True).stdout.split()
        if len(supervisor) != 1:
            raise SystemExit(f"FAIL: expected one supervisor child, found {supervisor}")
        os.kill(int(supervisor[0]), signal.SIGKILL)
        wait_for("memvisor_supervisor_restarts_total 1",
                 lambda s: s.get("memvisor_supervisor_restarts_total") == 1, timeout=30)
    finally:
        stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("FAIL:\n  " + "\n  ".join(failures))
        print("0 passed, 1 failed")
        raise SystemExit(1)
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
