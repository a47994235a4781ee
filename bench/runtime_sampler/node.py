#!/usr/bin/env python3
"""The Node.js heap sampler's cost to the worker: CPU (user + sys, from os.wait4) of one fixed
amount of JavaScript work (bench/runtime_sampler/node_workload.js), median over interleaved
rounds, run four ways:

  plain        node as it is
  idle         with memvisor's spawn-time setup (NODE_OPTIONS += --inspect-port=127.0.0.1:0
               --inspect-publish-uid=http), no window
  window       the same, with `memvisor sample --runtime node` recording over the whole run
               (the workload starts once the inspector is open, and 0.5 s more)
  alternative  a V8 heap snapshot (v8.writeHeapSnapshot()) halfway, Node's usual tool

  python3 bench/runtime_sampler/node.py --memvisor build/memvisor --rounds 5
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOAD = os.path.join(HERE, "node_workload.js")


def run_worker(args, env, sample_with=None, timeout=120):
    """CPU seconds (user + sys) of one run of the workload; starts `memvisor sample` on it."""
    worker = subprocess.Popen(["node", WORKLOAD] + args, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    sampler = None
    sampler_err = tempfile.TemporaryFile(mode="w+")
    if sample_with:
        worker.stdout.readline()  # "ready": Node's SIGUSR1 handler is in place
        # Longer than the run: the worker ends inside the window (the sampler then reports that
        # the process exited; its window covered the whole work).
        sampler = subprocess.Popen([sample_with, "sample", "--pid", str(worker.pid), "--runtime",
                                    "node", "--duration", "10m", "--timeout", "11m", "--out",
                                    os.devnull], stdout=subprocess.DEVNULL, stderr=sampler_err)
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(worker.pid, os.WNOHANG)
        if pid == worker.pid:
            break
        if time.monotonic() > deadline:
            worker.kill()
            os.wait4(worker.pid, 0)
            sampler_err.seek(0)
            raise RuntimeError("the workload did not finish: " + sampler_err.read())
        time.sleep(0.01)
    worker.stdout.close()
    worker.returncode = os.waitstatus_to_exitcode(status)
    if sampler:
        try:
            sampler.wait(timeout=30)
        except subprocess.TimeoutExpired:
            sampler.kill()
            sampler.wait()
    if worker.returncode != 0:
        raise RuntimeError(f"the workload exited with {worker.returncode}")
    return usage.ru_utime + usage.ru_stime


def measure(memvisor: str, rounds: int) -> dict:
    if not shutil.which("node"):
        raise RuntimeError("node is not installed")
    base = {k: v for k, v in os.environ.items() if k != "NODE_OPTIONS"}
    snapshots = tempfile.mkdtemp(prefix="node-bench-")
    # The NODE_OPTIONS memvisor really sets at spawn (the rest is measured elsewhere).
    setup = dict(base, NODE_OPTIONS=common.sampler_environment(memvisor, snapshots)["NODE_OPTIONS"])
    runs = {"plain": [], "idle": [], "window": [], "alternative": []}
    try:
        for _ in range(rounds):
            runs["plain"].append(run_worker([], base))
            runs["idle"].append(run_worker([], setup))
            runs["window"].append(run_worker(["--wait-inspector"], setup, sample_with=memvisor))
            runs["alternative"].append(run_worker(["--snapshot", snapshots], base))
            for name in os.listdir(snapshots):
                os.unlink(os.path.join(snapshots, name))
    finally:
        shutil.rmtree(snapshots, ignore_errors=True)
    median = {mode: statistics.median(values) for mode, values in runs.items()}
    plain = median["plain"]
    version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "runtime": "node",
        "workload": "node_workload.js: 500k request-like objects, strings and JSON built and "
                    "dropped, 1 in 100 kept",
        "plain_cpu_s": round(plain, 3),
        "idle_cpu_s": round(median["idle"], 3),
        "idle_ratio": round(median["idle"] / plain, 3),
        "window_cpu_s": round(median["window"], 3),
        "window_ratio": round(median["window"] / plain, 3),
        "alternative": "V8 heap snapshot (v8.writeHeapSnapshot) halfway",
        "alternative_cpu_s": round(median["alternative"], 3),
        "alternative_ratio": round(median["alternative"] / plain, 3),
        "notes": f"node {version}; median of {rounds} interleaved rounds; CPU = user+sys of the "
                 "worker (os.wait4); window = V8's sampling heap profiler at 32 KiB over the "
                 "whole run; idle = NODE_OPTIONS only (the native sampler's LD_PRELOAD is "
                 "measured by its own benchmark); runs: " +
                 json.dumps({m: [round(v, 3) for v in vals] for m, vals in runs.items()}),
    }


if __name__ == "__main__":
    sys.exit(main())
