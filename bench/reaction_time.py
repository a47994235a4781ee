#!/usr/bin/env python3
"""Reaction time of a limit rule: from the moment a worker's memory crosses the limit to the
arrival of the stop signal. See BENCHMARKS.md, "Measuring loop".

One instance of bench/reaction_worker under `limit = { size = "32MiB", for = 1 }`,
`interval = "100ms"`; each recycle starts the next generation, which crosses again. The worker
grows by 256 KiB steps, reading its own PSS after each, and records CLOCK_MONOTONIC before the step
that took it above the limit (so the time measured is an upper bound: the limit was crossed
somewhere during that step) and in its stop signal's handler. With `surge = true` the old process is stopped only once its replacement is
ready, so the default measures with `--surge false` (the pure reaction time).

`--mode event` gives the instance a cgroup of its own (`cgroup = true`), so the limit is armed as a
kernel notification on the cgroup's usage (README "Kernel-speed limits"); `--mode polling` runs the
same setup with arming off (MEMVISOR_KERNEL_THRESHOLDS=0); `--mode both` (the default) runs the two
one after the other and prints a line for each.

  bench/reaction_time.py --memvisor build/memvisor --worker build/bench/reaction_worker [--runs 30]
      [--interval 1s] [--mode both|event|polling|plain]
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def measure(args, mode):
    """Reactions and crossing steps (ms) of args.runs recycles; mode: plain (no cgroup, as
    before), polling (cgroup, arming off) or event (cgroup, armed)."""
    work = tempfile.mkdtemp(prefix="reaction-")
    config = os.path.join(work, "reaction.toml")
    with open(config, "w") as f:
        f.write(
            f'[supervisor]\nstate_dir = "{work}/state"\n\n[service.grow]\n'
            f"command = {json.dumps([os.path.abspath(args.worker), '32'])}\n"
            f'interval = "{args.interval}"\nmetric = "pss"\n'
            f'limit = {{ size = "32MiB", for = 1 }}\nsurge = {args.surge}\n'
            + ("cgroup = true\n" if mode != "plain" else "")
        )
    env = dict(os.environ)
    if mode == "polling":
        env["MEMVISOR_KERNEL_THRESHOLDS"] = "0"
    memvisor = subprocess.Popen(
        [args.memvisor, "run", config],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    reactions, steps = [], []
    deadline = time.monotonic() + args.timeout
    try:
        for line in memvisor.stdout:
            if "reaction " not in line:
                continue
            cross, crossed, signalled = map(int, line.split("reaction ", 1)[1].split())
            reactions.append((signalled - cross) / 1e6)
            steps.append((crossed - cross) / 1e6)
            if len(reactions) >= args.runs or time.monotonic() > deadline:
                break
    finally:
        memvisor.send_signal(signal.SIGTERM)
        memvisor.wait(timeout=120)
        shutil.rmtree(work, ignore_errors=True)
    if len(reactions) < args.runs:
        sys.exit(f"reaction_time: only {len(reactions)} of {args.runs} runs ({mode})")
    return reactions, steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--memvisor", default="build/memvisor")
    parser.add_argument("--worker", default="build/bench/reaction_worker")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--interval", default="100ms")
    parser.add_argument("--surge", choices=["true", "false"], default="false")
    parser.add_argument("--mode", choices=["both", "event", "polling", "plain"], default="both")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    modes = ["polling", "event"] if args.mode == "both" else [args.mode]
    for mode in modes:
        reactions, steps = measure(args, mode)
        print(
            f"{mode}: interval {args.interval}, surge {args.surge}, {len(reactions)} runs: "
            f"reaction median {statistics.median(reactions):.1f} ms, "
            f"p90 {percentile(reactions, 90):.1f} ms, "
            f"min {min(reactions):.1f} ms, max {max(reactions):.1f} ms "
            f"(the crossing step itself: median {statistics.median(steps):.1f} ms)",
            flush=True,
        )


if __name__ == "__main__":
    main()
