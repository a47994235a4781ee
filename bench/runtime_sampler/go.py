#!/usr/bin/env python3
"""Go: the cost of memvisor's heap sample on tests/runtimes/go/leaky.go (ROUNDS of leak + churn).

  python3 bench/runtime_sampler/go.py --memvisor build/memvisor --rounds 5

idle: the worker with the environment a heap_sampler service gets (Go needs no setup of its own;
the preloaded native library is ignored by a static Go binary). window: a `memvisor sample` over
the worker's own net/http/pprof during the run. Go's usual tool is that same endpoint (go tool
pprof), so there is no separate alternative; MemProfileRate=1 (every allocation profiled, as
people set it to find small leaks) is measured instead.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "..", "..", "tests", "runtimes", "go", "leaky.go")
ROUNDS = "3000"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(memvisor, rounds):
    if not shutil.which("go"):
        return {"runtime": "go", "notes": "skipped: no Go toolchain"}
    with tempfile.TemporaryDirectory(prefix="mv-bench-go-") as tmp:
        binary = os.path.join(tmp, "leaky")
        cache = f"/tmp/memvisor-test-gocache-{os.getuid()}"
        subprocess.run(["go", "build", "-o", binary, SOURCE], check=True, cwd=tmp,
                       env={**os.environ, "HOME": cache, "GOCACHE": cache, "GO111MODULE": "off"})
        sampler_dir = os.path.join(tmp, "sampler")
        os.mkdir(sampler_dir)
        setup = common.sampler_environment(memvisor, sampler_dir)

        def run(env, during=None):
            port = free_port()
            full = {"ROUNDS": ROUNDS, "PPROF_ADDR": f"127.0.0.1:{port}", **env}
            hook = (lambda pid: during(pid, port)) if during else None
            cpu, code = common.run_cpu([binary], env=full, during=hook)
            assert code == 0, f"leaky.go exited with {code}"
            return cpu

        def window(pid, port):
            if not common.sample_window(memvisor, pid, "2s", delay=0.5,
                                        extra=["--pprof", f"http://127.0.0.1:{port}"]):
                raise RuntimeError("the sample inside the run failed: make ROUNDS larger")

        medians = common.median_runs({
            "plain": lambda: run({}),
            "idle": lambda: run(setup),
            "window": lambda: run(setup, window),
            "alternative": lambda: run({"GODEBUG": "memprofilerate=1"}),
        }, rounds)
    result = {
        "runtime": "go",
        "workload": f"leaky.go, ROUNDS={ROUNDS}: 10 leaked invoices and 10 churn rounds "
                    "(16 x 16 KiB) per round",
        "plain_cpu_s": round(medians["plain"], 3),
        "idle_cpu_s": round(medians["idle"], 3),
        "window_cpu_s": round(medians["window"], 3),
        "alternative": "GODEBUG=memprofilerate=1 (every allocation profiled)",
        "alternative_cpu_s": round(medians["alternative"], 3),
        "notes": "window: a 2 s sample (two heap profiles, each after a GC) inside the run",
    }
    return common.ratios(result)


if __name__ == "__main__":
    common.main(measure, __doc__)
