#!/usr/bin/env python3
"""The Node demo of gauges (README "Custom monitors"): two Node workers with no memvisor library
report process.memoryUsage().heapUsed every 200 ms over MEMVISOR_SOCKET
(examples/node/heap_gauge.js); a leak rule on `gauge:heap_used_bytes` recycles the one whose Map
grows and never the steady one, whose heap is a GC sawtooth on a flat floor.

The leak detector judges 30 s floor windows and wants the slope's lower confidence bound (at
99.9998 % for its false-alarm budget) above the rate, two verdicts in a row: on a real V8 heap,
whose floor moves with the old generation's collections, that takes minutes even for a leak 30
times the rate (a perfectly straight synthetic leak takes 3). So this test has its own ctest
entry with a long timeout, like the LeakSample tests, and is not in the sanitizer build.

    node_heap_gauge_test.py --memvisor build/memvisor --source .
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


def events(state_dir):
    path = os.path.join(state_dir, "events.jsonl")
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def status(memvisor, state_dir):
    result = subprocess.run([memvisor, "status", "--json", "--state-dir", state_dir],
                            capture_output=True, text=True, timeout=20)
    try:
        return json.loads(result.stdout)
    except ValueError:
        return {}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--memvisor", required=True)
    parser.add_argument("--source", required=True)
    args = parser.parse_args()
    if shutil.which("node") is None:
        print("node not installed (Debian package nodejs)")
        return 1
    demo = os.path.join(os.path.abspath(args.source), "examples/node/heap_gauge.js")
    work = tempfile.mkdtemp(prefix="memvisor-node-gauge-")
    state_dir = os.path.join(work, "state")
    config = os.path.join(work, "node.toml")
    rule = ('leak = { rate = "200MiB/h", warmup = "0s", action = "alert", '
            'metric = "gauge:heap_used_bytes" }\n')
    with open(config, "w") as f:
        for name, leak in (("leaking", "1"), ("steady", "0")):
            f.write(f'[service.{name}]\ncommand = ["node", "{demo}"]\ninterval = "200ms"\n'
                    f'env = {{ DEMO_LEAK = "{leak}" }}\n{rule}\n')
    log = open(os.path.join(work, "memvisor.log"), "w")
    run = subprocess.Popen([args.memvisor, "run", config, "--state-dir", state_dir],
                           stdout=log, stderr=subprocess.STDOUT)
    failures = []
    try:
        # Both report their heap: it shows in status as a gauge.
        deadline = time.time() + 30
        gauges = {}
        while time.time() < deadline:
            gauges = {r["service"]: r.get("gauges", {}) for r in status(args.memvisor, state_dir)
                      .get("instances", [])}
            if all(g.get("heap_used_bytes", 0) > 0 for g in gauges.values()) and len(gauges) == 2:
                break
            time.sleep(0.5)
        print("gauges:", gauges)
        if len(gauges) != 2 or not all(g.get("heap_used_bytes", 0) > 0 for g in gauges.values()):
            failures.append("both Node workers report heap_used_bytes")
        # The leaking one is found (alert) within 9 minutes; the steady one never.
        start = time.time()
        found = None
        while time.time() - start < 540 and found is None:
            for event in events(state_dir):
                if event.get("event") == "rule" and event.get("service") == "leaking":
                    found = event
            time.sleep(1)
        if found is None:
            failures.append("the leak rule on gauge:heap_used_bytes found the leaking worker")
        else:
            print("found after %.0f s: %s" % (time.time() - start, found.get("message")))
            if found.get("rule") != "leak" or found.get("metric") != "gauge:heap_used_bytes":
                failures.append("the event is the leak rule's on gauge:heap_used_bytes: %s" % found)
        steady = [e for e in events(state_dir)
                  if e.get("event") == "rule" and e.get("service") == "steady"]
        if steady:
            failures.append("the steady worker raised no rule: %s" % steady)
    finally:
        run.terminate()
        try:
            run.wait(timeout=30)
        except subprocess.TimeoutExpired:
            run.kill()
        log.close()
    if failures:
        print(open(os.path.join(work, "memvisor.log")).read()[-4000:])
        for failure in failures:
            print("FAIL ", failure)
        return 1
    shutil.rmtree(work, ignore_errors=True)
    print("node_heap_gauge_test: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
