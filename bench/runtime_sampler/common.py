"""Shared pieces of the runtime heap sampler benchmarks (bench/runtime_sampler/*.py).

The environment memvisor gives a heap_sampler worker is read from memvisor itself (a probe
service that prints its environment), so a benchmark measures the same setup a real worker gets.
CPU is the worker's own user+sys time (os.wait4), for a fixed amount of work.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time


# What memvisor sets at spawn for a heap_sampler service.
SAMPLER_VARIABLES = ("PYTHONPATH", "RUBYOPT", "NODE_OPTIONS", "LD_PRELOAD", "MEMVISOR_SAMPLER_DIR")


def sampler_environment(memvisor, sampler_dir, runtime=None):
    """The environment memvisor sets for a worker of a heap_sampler service (runtime: forced),
    with MEMVISOR_SAMPLER_DIR pointed at `sampler_dir` (the probe's own state dir is gone)."""
    with tempfile.TemporaryDirectory(prefix="mv-env-") as tmp:
        dump = os.path.join(tmp, "env")
        flags = ["--heap-sampler"] + (["--heap-runtime", runtime] if runtime else [])
        proc = subprocess.Popen(
            [memvisor, "run", "--state-dir", os.path.join(tmp, "state"), "--name", "probe",
             *flags, "--", "sh", "-c", f"env -0 > {dump}.tmp && mv {dump}.tmp {dump}; sleep 60"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while not os.path.exists(dump) and time.monotonic() < deadline:
                time.sleep(0.05)
            with open(dump, "rb") as f:
                entries = f.read().decode(errors="replace").split("\0")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    env = {}
    for entry in entries:
        key, _, value = entry.partition("=")
        if key in SAMPLER_VARIABLES:
            env[key] = value
    env["MEMVISOR_SAMPLER_DIR"] = sampler_dir
    return env


def run_cpu(argv, env=None, cwd=None, during=None):
    """Runs argv to its end; returns (user+sys CPU seconds of the process, exit code).
    `during(pid)` runs while it does (e.g. a heap sample window)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.Popen(argv, env=full_env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    if during:
        during(proc.pid)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime, proc.returncode


def median_runs(variants, rounds):
    """variants: name -> zero-argument function returning CPU seconds. Runs them interleaved,
    `rounds` times each, and returns name -> median."""
    times = {name: [] for name in variants}
    for _ in range(rounds):
        for name, run in variants.items():
            times[name].append(run())
    return {name: statistics.median(values) for name, values in times.items()}


def sample_window(memvisor, pid, duration, delay=1.0, extra=()):
    """`memvisor sample --pid PID` after `delay` seconds; returns the report path's JSON or None."""
    time.sleep(delay)
    with tempfile.TemporaryDirectory(prefix="mv-sample-") as tmp:
        out = os.path.join(tmp, "report.json")
        subprocess.run([memvisor, "sample", "--pid", str(pid), "--duration", duration,
                        "--out", out, *extra], capture_output=True, timeout=300)
        return os.path.exists(out)


def ratios(result, plain_key="plain_cpu_s"):
    """Adds *_ratio keys for every *_cpu_s against the plain run."""
    plain = result[plain_key]
    for key in list(result):
        if key.endswith("_cpu_s") and key != plain_key and result[key] is not None:
            result[key.replace("_cpu_s", "_ratio")] = round(result[key] / plain, 3) if plain else None
    return result


def main(measure, doc):
    """The command line every runtime's module shares: --memvisor, --rounds; prints the dict."""
    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memvisor", default="build/memvisor")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(measure(os.path.abspath(args.memvisor), args.rounds), indent=2))
