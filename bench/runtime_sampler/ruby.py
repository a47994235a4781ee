#!/usr/bin/env python3
"""CPU cost of memvisor's Ruby heap agent on a fixed workload (hashes, strings, JSON, a small
leak), for /usr/bin/ruby: plain; with memvisor's spawn-time setup (RUBYOPT -r the agent, idle,
and the preloaded native sampler memvisor also sets); with a sample window open over the whole
run (ObjectSpace.trace_object_allocations); and with allocation tracing for the whole run and
ObjectSpace.dump_all at its end, the usual alternative. See _agent_bench.py for how CPU is
measured.

  python3 bench/runtime_sampler/ruby.py --memvisor build/memvisor --rounds 5
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _agent_bench  # noqa: E402
import common  # noqa: E402

RUBY = "/usr/bin/ruby"
ITERATIONS = 300000
WORKLOAD = """
require 'json'
$stdin.gets
kept = []
total = 0
%d.times do |i|
  record = { 'id' => i, 'name' => "item-#{i}", 'tags' => ['a', 'b', i.to_s], 'price' => i * 0.5 }
  text = JSON.generate(record)
  total += JSON.parse(text)['name'].size + record['tags'].join(' ').size
  kept << text if (i %% 100).zero?
end
puts total, kept.size
""" % ITERATIONS

# The usual alternative: trace every allocation for the whole run, dump the heap at the end.
ALTERNATIVE = """
require 'objspace'
ObjectSpace.trace_object_allocations_start
at_exit { File.open(ENV.fetch('DUMP_PATH'), 'w') { |f| ObjectSpace.dump_all(output: f) } }
"""


def measure(memvisor: str, rounds: int) -> dict:
    work = tempfile.mkdtemp(prefix="mv-bench-ruby-")
    script = os.path.join(work, "workload.rb")
    prelude = os.path.join(work, "trace_all.rb")
    with open(script, "w") as f:
        f.write(WORKLOAD)
    with open(prelude, "w") as f:
        f.write(ALTERNATIVE)
    os.environ["DUMP_PATH"] = os.path.join(work, "heap.json")
    try:
        variants = {
            "plain": ([RUBY, script], False, None, 3),
            "idle": ([RUBY, script], True, None, 3),
            "idle_agent_only": ([RUBY, script], ("RUBYOPT",), None, 3),
            "window": ([RUBY, script], True, 3600.0, 1),
            "alternative": ([RUBY, "-r" + prelude, script], False, None, 1),
        }
        medians, samples, setup, startup = _agent_bench.measure_agent(
            memvisor, rounds, variants, noop=[RUBY, "-e", "$stdin.gets"])
        dump_mib = os.path.getsize(os.environ["DUMP_PATH"]) / 1048576.0
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    plain = medians["plain"]
    return {
        "runtime": "ruby",
        "workload": "%d iterations of Hash + JSON.generate/parse + String join, 1%% kept (ruby %s)"
        % (ITERATIONS, _version()),
        "plain_cpu_s": round(plain, 3),
        "idle_cpu_s": round(medians["idle"], 3),
        "idle_ratio": _agent_bench.ratio(medians["idle"], plain),
        "window_cpu_s": round(medians["window"], 3),
        "window_ratio": _agent_bench.ratio(medians["window"], plain),
        "alternative": "ObjectSpace.trace_object_allocations_start for the whole run + "
        "ObjectSpace.dump_all at exit",
        "alternative_cpu_s": round(medians["alternative"], 3),
        "alternative_ratio": _agent_bench.ratio(medians["alternative"], plain),
        "notes": "medians of interleaved runs, user+sys of the worker (os.wait4): %d rounds, 3 runs "
        "per round for plain and idle, 1 for window and the alternative (fastest plain %.3f s, "
        "idle %.3f s, agent alone %.3f s); start-up alone (a "
        "program that does nothing, 20 runs): %.1f ms plain, %.1f ms with the setup; idle = "
        "the environment memvisor sets at spawn (%s), of which the agent alone (RUBYOPT, no "
        "LD_PRELOAD of the native sampler): %.3f s, ratio %s; window = one window opened before "
        "the work and still open when the worker exits (the profile build after a window is not "
        "counted); the alternative's heap dump: %.1f MiB; all runs: %s"
        % (rounds, min(samples["plain"]), min(samples["idle"]), min(samples["idle_agent_only"]),
           startup[0] * 1000, startup[1] * 1000, ", ".join(sorted(setup)), medians["idle_agent_only"],
           _agent_bench.ratio(medians["idle_agent_only"], plain), dump_mib,
           json.dumps({k: [round(x, 3) for x in v] for k, v in samples.items()})),
    }


def _version():
    import subprocess

    return subprocess.run([RUBY, "-e", "print RUBY_VERSION"], capture_output=True,
                          text=True).stdout.strip()


if __name__ == "__main__":
    common.main(measure, __doc__)
