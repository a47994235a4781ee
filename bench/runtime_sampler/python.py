#!/usr/bin/env python3
"""CPU cost of memvisor's Python heap agent on a fixed workload (dicts, strings, json, a small
leak), for /usr/bin/python3: plain; with memvisor's spawn-time setup (sitecustomize + idle agent,
and the preloaded native sampler memvisor also sets); with a sample window open over the whole
run (tracemalloc, 16 frames); and under `python3 -X tracemalloc=16` for the whole run, the usual
alternative. See bench/runtime_sampler/_agent_bench.py for how CPU is measured.

  python3 bench/runtime_sampler/python.py --memvisor build/memvisor --rounds 5
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _agent_bench  # noqa: E402
import common  # noqa: E402

PYTHON = "/usr/bin/python3"
ITERATIONS = 300000
WORKLOAD = """
import json, sys
sys.stdin.readline()
kept = []
total = 0
for i in range(%d):
    record = {"id": i, "name": "item-%%d" %% i, "tags": ["a", "b", str(i)], "price": i * 0.5}
    text = json.dumps(record)
    total += len(json.loads(text)["name"]) + len(" ".join(record["tags"]))
    if i %% 100 == 0:
        kept.append(text)
print(total, len(kept))
""" % ITERATIONS


def measure(memvisor: str, rounds: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(WORKLOAD)
        script = f.name
    try:
        variants = {
            "plain": ([PYTHON, script], False, None, 3),
            "idle": ([PYTHON, script], True, None, 3),
            "idle_agent_only": ([PYTHON, script], ("PYTHONPATH",), None, 3),
            "window": ([PYTHON, script], True, 3600.0, 1),
            "alternative": ([PYTHON, "-X", "tracemalloc=16", script], False, None, 1),
        }
        medians, samples, setup, startup = _agent_bench.measure_agent(
            memvisor, rounds, variants, noop=[PYTHON, "-c", "import sys; sys.stdin.readline()"])
    finally:
        os.unlink(script)
    plain = medians["plain"]
    return {
        "runtime": "python",
        "workload": "%d iterations of dict + json.dumps/loads + str join, 1%% kept (CPython %s)"
        % (ITERATIONS, _version()),
        "plain_cpu_s": round(plain, 3),
        "idle_cpu_s": round(medians["idle"], 3),
        "idle_ratio": _agent_bench.ratio(medians["idle"], plain),
        "window_cpu_s": round(medians["window"], 3),
        "window_ratio": _agent_bench.ratio(medians["window"], plain),
        "alternative": "python3 -X tracemalloc=16 (whole run)",
        "alternative_cpu_s": round(medians["alternative"], 3),
        "alternative_ratio": _agent_bench.ratio(medians["alternative"], plain),
        "notes": "medians of interleaved runs, user+sys of the worker (os.wait4): %d rounds, 3 runs "
        "per round for plain and idle, 1 for window and the alternative (fastest plain %.3f s, "
        "idle %.3f s, agent alone %.3f s); start-up alone (a "
        "program that does nothing, 20 runs): %.1f ms plain, %.1f ms with the setup; idle = "
        "the environment memvisor sets at spawn (%s), of which the agent alone (PYTHONPATH, no "
        "LD_PRELOAD of the native sampler): %.3f s, ratio %s; window = one window opened before "
        "the work and still open when the worker exits (the profile build after a window is not "
        "counted); all runs: %s"
        % (rounds, min(samples["plain"]), min(samples["idle"]), min(samples["idle_agent_only"]),
           startup[0] * 1000, startup[1] * 1000, ", ".join(sorted(setup)), medians["idle_agent_only"],
           _agent_bench.ratio(medians["idle_agent_only"], plain),
           json.dumps({k: [round(x, 3) for x in v] for k, v in samples.items()})),
    }


def _version():
    import subprocess

    return subprocess.run([PYTHON, "-c", "import platform; print(platform.python_version())"],
                          capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    common.main(measure, __doc__)
