#!/usr/bin/env python3
"""Every runtime's heap sampler cost, side by side in one run (for BENCHMARKS.md).

  python3 bench/runtime_sampler/run.py --memvisor build/memvisor --rounds 5 [--only go ...]

Each bench/runtime_sampler/<runtime>.py measures, on its own test program doing a fixed amount
of work, the worker's CPU (user+sys, median of interleaved rounds) plain, with the spawn-time
setup of a heap_sampler service (idle), with a sample window open during the run (window), and
under the runtime's usual alternative. Printed as a Markdown table and as JSON lines.
"""
import argparse
import importlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RUNTIMES = ["node", "python", "jvm", "ruby", "go"]


def cell(result, key):
    value = result.get(key)
    return "" if value is None else f"{value}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memvisor", default="build/memvisor")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=RUNTIMES)
    args = parser.parse_args()
    sys.path.insert(0, HERE)
    memvisor = os.path.abspath(args.memvisor)
    results = []
    for name in args.only:
        if not os.path.exists(os.path.join(HERE, f"{name}.py")):
            continue
        module = importlib.import_module(name)
        result = module.measure(memvisor, args.rounds)
        print(json.dumps(result), flush=True)
        results.append(result)
    print()
    print("| runtime | plain CPU | idle (setup at spawn) | window open | usual alternative |")
    print("| --- | --- | --- | --- | --- |")
    for r in results:
        if "plain_cpu_s" not in r:
            print(f"| {r['runtime']} | {r.get('notes', '')} | | | |")
            continue
        print(f"| {r['runtime']} | {cell(r, 'plain_cpu_s')} s | {cell(r, 'idle_ratio')}x | "
              f"{cell(r, 'window_ratio')}x | {cell(r, 'alternative_ratio')}x "
              f"({r.get('alternative', '')}) |")


if __name__ == "__main__":
    main()
