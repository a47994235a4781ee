#!/usr/bin/env python3
"""JVM: the cost of memvisor's heap sample on tests/runtimes/jvm OrderBook (bench ROUNDS).

  python3 bench/runtime_sampler/jvm.py --memvisor build/memvisor --rounds 5

The worker, `OrderBook bench ROUNDS`, does ROUNDS rounds of 24 short-lived arrays (0.5 to 16.5
KiB) and one kept 1 KiB order, then exits (java -Xmx128m, the serial collector: the parallel
one's idle workers spin for times that follow the machine's load more than the workload).
idle: the environment a heap_sampler service gets (the JVM needs no setup of its own; the
preloaded native sampler and the other runtimes' variables are there all the same). window: a
`memvisor sample --runtime jvm` of 2 s inside the run (a JFR recording, two class histograms),
JFR's first start-up in that JVM included. The usual alternative: a JFR recording with the JDK's
profile settings for the whole run (-XX:StartFlightRecording:settings=profile); also measured,
two `jcmd GC.class_histogram` (= jmap -histo, the JDK's jcmd) 2 s apart. Apart from the runs:
the CPU a first and a second window cost an idle JVM (JFR's one-time start-up is the first's).
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "..", "..", "tests", "runtimes", "jvm", "com", "example",
                      "OrderBook.java")
ROUNDS = "500000"
JAVA_OPTIONS = ["-Xmx128m", "-XX:+UseSerialGC"]


def process_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_windows(memvisor, java, classes):
    """CPU an idle JVM spends on a first and on a second 1 s window."""
    proc = subprocess.Popen([java, *JAVA_OPTIONS, "-cp", classes, "com.example.OrderBook",
                             "print", "0", "120000"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    try:
        proc.stdout.readline()
        time.sleep(1)
        spent = []
        for _ in range(2):
            before = process_cpu(proc.pid)
            if not common.sample_window(memvisor, proc.pid, "1s", delay=0,
                                        extra=["--runtime", "jvm"]):
                raise RuntimeError("the sample of the idle JVM failed")
            spent.append(round(process_cpu(proc.pid) - before, 3))
        return spent
    finally:
        proc.kill()
        proc.wait()


def measure(memvisor, rounds):
    java, javac = shutil.which("java"), shutil.which("javac")
    if not java or not javac:
        return {"runtime": "jvm", "notes": "skipped: no JDK (java and javac)"}
    jcmd = shutil.which("jcmd")
    with tempfile.TemporaryDirectory(prefix="mv-bench-jvm-") as tmp:
        classes = os.path.join(tmp, "classes")
        subprocess.run([javac, "-d", classes, SOURCE], check=True)
        sampler_dir = os.path.join(tmp, "sampler")
        os.mkdir(sampler_dir)
        setup = common.sampler_environment(memvisor, sampler_dir)
        worker = ["-cp", classes, "com.example.OrderBook", "bench", ROUNDS]
        jfr = os.path.join(tmp, "profile.jfr")

        def run(env, during=None, options=()):
            cpu, code = common.run_cpu([java, *JAVA_OPTIONS, *options, *worker], env=env,
                                       during=during)
            assert code == 0, f"OrderBook bench exited with {code}"
            return cpu

        def window(pid):
            if not common.sample_window(memvisor, pid, "2s", delay=1.0,
                                        extra=["--runtime", "jvm"]):
                raise RuntimeError("the sample inside the run failed: make ROUNDS larger")

        def histograms(pid):
            time.sleep(1.0)
            for pause in (2, 0):
                subprocess.run([jcmd, str(pid), "GC.class_histogram"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(pause)

        variants = {
            "plain": lambda: run({}),
            "idle": lambda: run(setup),
            "window": lambda: run(setup, window),
            "alternative": lambda: run(
                {}, options=[f"-XX:StartFlightRecording:settings=profile,filename={jfr}"]),
        }
        if jcmd:
            variants["histogram"] = lambda: run({}, histograms)
        run({})  # warms the page cache and the class data sharing archive
        medians = common.median_runs(variants, rounds)
        first, second = idle_windows(memvisor, java, classes)
        version = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    result = {
        "runtime": "jvm",
        "workload": f"OrderBook bench {ROUNDS}: 24 short-lived arrays (0.5-16.5 KiB) and one "
                    "kept 1 KiB order per round, java " + " ".join(JAVA_OPTIONS) +
                    f" ({version.splitlines()[0] if version else 'java'})",
        "plain_cpu_s": round(medians["plain"], 3),
        "idle_cpu_s": round(medians["idle"], 3),
        "window_cpu_s": round(medians["window"], 3),
        "alternative": "a JFR recording with the profile settings for the whole run "
                       "(-XX:StartFlightRecording:settings=profile)",
        "alternative_cpu_s": round(medians["alternative"], 3),
        "first_window_idle_jvm_s": first,
        "second_window_idle_jvm_s": second,
        "notes": "window: a 2 s sample inside the run, JFR's one-time start-up in the JVM "
                 f"included (an idle JVM spent {first} s of CPU on its first 1 s window, "
                 f"{second} s on its second)",
    }
    if "histogram" in medians:
        result["histogram_cpu_s"] = round(medians["histogram"], 3)
        result["notes"] += "; histogram: two jcmd GC.class_histogram 2 s apart (jmap -histo)"
    return common.ratios(result)


if __name__ == "__main__":
    common.main(measure, __doc__)
