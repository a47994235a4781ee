"""Shared by bench/runtime_sampler/python.py and ruby.py: the CPU a worker spends on a fixed amount
of work plain, with memvisor's spawn-time setup (idle agent), with a sample window open over the
whole run, and under the runtime's usual whole-run tool. stdlib only.

CPU is user + sys of the worker process from os.wait4's rusage; each worker waits for a "go" line
on stdin before its work, so a window can be opened first. Runs are interleaved, medians taken.
"""
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time

import common

def run_worker(argv, env, window=None, sampler_dir=None):
    """Starts the worker, optionally opens a window of `window` seconds through its agent, sends
    "go", and returns the worker's CPU seconds (user + sys) once it exits."""
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    conn = None
    try:
        if window is not None:
            path = os.path.join(sampler_dir, "%d.agent" % proc.pid)
            marker = os.path.join(sampler_dir, "%d.wake" % proc.pid)
            deadline = time.monotonic() + 30
            woken = 0.0
            while not os.path.exists(path):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("no agent socket for the worker %s" % argv)
                # The Ruby agent listens only when woken, as memvisor does it: the request
                # file, then SIGURG (again each second until the socket is there).
                if os.path.exists(marker) and time.monotonic() - woken > 1:
                    open(marker + ".req", "a").close()
                    os.kill(proc.pid, signal.SIGURG)
                    woken = time.monotonic()
                time.sleep(0.01)
            conn = socket.socket(socket.AF_UNIX)
            conn.connect(path)
            request = {"protocol": 1, "duration_ms": int(window * 1000), "frames": 16,
                       "interval_bytes": 524288}
            conn.sendall((json.dumps(request) + "\n").encode())
            first = conn.makefile("rb").readline()
            if b"recording" not in first:
                raise RuntimeError("the agent did not start recording: %r" % first)
        proc.stdin.write(b"go\n")
        proc.stdin.close()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = status
        if status != 0:
            raise RuntimeError("worker %s exited with status %d" % (argv, status))
        return usage.ru_utime + usage.ru_stime
    finally:
        if conn is not None:
            conn.close()
        if proc.returncode is None:
            proc.kill()
            proc.wait()


def measure_agent(memvisor, rounds, variants, noop=None):
    """variants: name -> (argv, setup, window seconds or None, runs per round), setup True
    (memvisor's spawn-time environment), False, or a tuple of the variables of it to set. `noop`:
    an argv that does nothing, run 20 times plain and with the setup, for the fixed start-up cost.
    Returns the medians, the runs, the environment and the start-up medians (plain, setup)."""
    sampler_dir = tempfile.mkdtemp(prefix="mv-bench-sampler-")
    os.chmod(sampler_dir, 0o1733)
    setup = common.sampler_environment(memvisor, sampler_dir)
    base = {k: v for k, v in os.environ.items() if k not in common.SAMPLER_VARIABLES}
    samples = {name: [] for name in variants}
    try:
        names = list(variants)
        most = max(v[3] for v in variants.values())
        for r in range(rounds):
            for rep in range(most):  # interleaved run by run, the order rotated
                turn = r * most + rep
                for name in names[turn % len(names):] + names[:turn % len(names)]:
                    argv, with_setup, window, repeat = variants[name]
                    if rep >= repeat:
                        continue
                    env = environment(base, setup, with_setup, sampler_dir)
                    samples[name].append(run_worker(argv, env, window, sampler_dir))
        startup = None
        if noop:
            runs = {False: [], True: []}
            for _ in range(20):
                for with_setup in (False, True):
                    env = environment(base, setup, with_setup, sampler_dir)
                    runs[with_setup].append(run_worker(noop, env))
            startup = (statistics.median(runs[False]), statistics.median(runs[True]))
    finally:
        shutil.rmtree(sampler_dir, ignore_errors=True)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return medians, samples, setup, startup


def environment(base, setup, with_setup, sampler_dir):
    env = dict(base)
    if with_setup:
        keep = setup if with_setup is True else with_setup
        env.update({k: v for k, v in setup.items() if k in keep})
        env["MEMVISOR_SAMPLER_DIR"] = sampler_dir
    return env


def ratio(value, plain):
    return round(value / plain, 3) if plain > 0 else None
