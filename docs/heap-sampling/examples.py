#!/usr/bin/env python3
"""The example reports of README's "Heap sampling": each runtime's test program under memvisor
(heap_sampler = true), sampled once with `memvisor sample SERVICE.1 --duration 5s`.

  python3 docs/heap-sampling/examples.py --memvisor build/memvisor [--only node ...]

Prints each summary up to its top retained stack. Needs node, python3, java + javac, ruby, go.
"""
import argparse
import os
import socket
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
T = os.path.join(ROOT, "tests", "runtimes")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def commands(tmp):
    port = free_port()
    cache = f"/tmp/memvisor-test-gocache-{os.getuid()}"
    subprocess.run(["go", "build", "-o", f"{tmp}/leaky-go", f"{T}/go/leaky.go"], check=True,
                   cwd=tmp, env={**os.environ, "HOME": cache, "GOCACHE": cache,
                                 "GO111MODULE": "off"})
    subprocess.run(["javac", "-d", f"{tmp}/classes", f"{T}/jvm/com/example/OrderBook.java"],
                   check=True)
    return {
        "node": (["node", f"{T}/node/leaky.js"], ""),
        "python": (["/usr/bin/python3", f"{T}/python/leaky_app.py", "helper"], ""),
        "jvm": (["java", "-Xmx128m", "-cp", f"{tmp}/classes", "com.example.OrderBook", "leak"], ""),
        "ruby": (["/usr/bin/ruby", f"{T}/ruby/leaky_app.rb", "helper"], ""),
        "go": ([f"{tmp}/leaky-go"],
               f'pprof = "http://127.0.0.1:{port}"\nenv = {{ PPROF_ADDR = "127.0.0.1:{port}" }}\n'),
    }


def example(memvisor, tmp, name, command, extra):
    config = os.path.join(tmp, f"{name}.toml")
    with open(config, "w") as f:
        f.write(f"[service.{name}]\ncommand = [{', '.join(repr(c).replace(chr(39), chr(34)) for c in command)}]\n"
                f"heap_sampler = true\n{extra}")
    state = os.path.join(tmp, f"state-{name}")
    proc = subprocess.Popen([memvisor, "run", "--state-dir", state, config],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(4)  # the JVM's start, the program's warm-up
        out = subprocess.run([memvisor, "sample", f"{name}.1", "--duration", "5s", "--state-dir",
                              state, "--out", os.path.join(tmp, f"{name}.json")],
                             capture_output=True, text=True, timeout=120)
        return out.stdout if out.returncode == 0 else out.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memvisor", default="build/memvisor")
    parser.add_argument("--only", nargs="*", default=["node", "python", "jvm", "ruby", "go"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mv-examples-") as tmp:
        for name, (command, extra) in commands(tmp).items():
            if name in args.only:
                print(f"=== {name}\n" + example(os.path.abspath(args.memvisor), tmp, name,
                                                 command, extra).replace(ROOT + "/", ""))


if __name__ == "__main__":
    main()
