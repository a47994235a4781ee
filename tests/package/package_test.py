#!/usr/bin/env python3
"""The Debian package, end to end: cpack builds it from the release build dir into a temp dir,
its contents and control fields are checked, apt resolves its dependencies (a simulation, as
`apt-get install ./memvisor_*.deb` would), and the files extracted into a fresh root run:
`memvisor check` on an installed example, and a short `memvisor run` of the installed Python
example and of the C++ example built against the installed worker library (pkg-config), both
with heap_sampler, whose sampler library and agents must come from that root. Then SIGTERM
stops it cleanly.

    package_test.py --build-dir build --source-dir .
"""
import argparse
import glob
import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

failures = []


def check(condition, message):
    print(("ok    " if condition else "FAIL  ") + message, flush=True)
    if not condition:
        failures.append(message)
    return condition


def run(args, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 300)
    return subprocess.run(args, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def eventually(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


def build_package(build_dir, out_dir):
    """cpack with the build dir's config, every output (staging included) in out_dir."""
    result = run(["cpack", "-G", "DEB", "--config", os.path.join(build_dir, "CPackConfig.cmake"),
                  "-B", out_dir], cwd=build_dir)
    if not check(result.returncode == 0, "cpack -G DEB builds the package"):
        print(result.stdout[-3000:], result.stderr[-3000:])
        sys.exit(1)
    debs = glob.glob(os.path.join(out_dir, "memvisor_*.deb"))
    check(len(debs) == 1, f"one memvisor_*.deb in the output: {debs}")
    return debs[0]


def check_contents(deb, source_dir, version):
    check(os.path.basename(deb) == f"memvisor_{version}_amd64.deb",
          f"the file is named memvisor_VERSION_amd64.deb: {os.path.basename(deb)}")
    listing = run(["dpkg-deb", "-c", deb]).stdout
    paths = {line.split()[5] for line in listing.splitlines()}
    wanted = [
        "./usr/bin/memvisor",
        "./usr/lib/libmemvisor_sampler.so",
        f"./usr/lib/libmemvisor-worker.so.{version}",
        "./usr/lib/libmemvisor-worker.so.0",  # the soname link, for programs that linked it
        "./usr/lib/libmemvisor-worker.so",  # the link the linker takes, with the headers
        "./usr/include/memvisor/worker.h",
        "./usr/include/memvisor/worker.hpp",
        "./usr/lib/pkgconfig/memvisor-worker.pc",
        "./usr/share/memvisor/agents/python/sitecustomize.py",
        "./usr/share/memvisor/agents/ruby/memvisor_heap_agent.rb",
        "./usr/share/man/man1/memvisor.1.gz",
        "./usr/share/doc/memvisor/changelog.gz",
        "./usr/share/doc/memvisor/examples/web.toml",
        "./usr/share/doc/memvisor/examples/workers/http_worker.py",
        "./usr/share/doc/memvisor/examples/lib/memvisor_worker.py",
    ]
    # Every unit deploy/systemd/ holds, whatever its name.
    for unit in sorted(glob.glob(os.path.join(source_dir, "deploy/systemd/*.service"))):
        wanted.append("./usr/lib/systemd/system/" + os.path.basename(unit))
    for path in wanted:
        check(path in paths, f"the package holds {path}")
    check(not any("__pycache__" in p for p in paths), "no __pycache__ in the package")

    fields = {}
    for name in ["Package", "Version", "Architecture", "Maintainer", "Section", "Description",
                 "Depends", "Homepage"]:
        fields[name] = run(["dpkg-deb", "-f", deb, name]).stdout.strip()
    check(fields["Package"] == "memvisor", f"Package: {fields['Package']}")
    check(fields["Version"] == version, f"Version: {fields['Version']}")
    check(fields["Architecture"] == "amd64", f"Architecture: {fields['Architecture']}")
    check(fields["Section"] == "admin", f"Section: {fields['Section']}")
    check("<" in fields["Maintainer"] and "@" in fields["Maintainer"],
          f"Maintainer has a name and an address: {fields['Maintainer']}")
    synopsis = fields["Description"].splitlines()[0] if fields["Description"] else ""
    check(synopsis == "memory-aware process supervisor", f"Description's synopsis: {synopsis}")
    check(len(fields["Description"].splitlines()) > 5, "an extended description")
    for field, value in fields.items():
        check(not any(p in value for p in ["built using CMake", "TODO", "${", "@CPACK", "example.com"]),
              f"{field} holds no placeholder")
    # dpkg-shlibdeps computed them from what the binaries link.
    depends = fields["Depends"]
    for lib in ["libc6", "libstdc++6", "libmicrohttpd12", "libdw1", "libfmt9", "libtomlplusplus3",
                "libunwind8", "libncursesw6"]:
        check(lib in depends, f"Depends names {lib}")

    # dpkg's ldconfig trigger refreshes the libraries' cache; no maintainer script calls ldconfig.
    with tempfile.TemporaryDirectory() as control:
        run(["dpkg-deb", "-e", deb, control], check=True)
        triggers = open(os.path.join(control, "triggers")).read() \
            if os.path.exists(os.path.join(control, "triggers")) else ""
        check("activate-noawait ldconfig" in triggers, "the package activates the ldconfig trigger")
        scripts = "".join(open(os.path.join(control, n)).read() for n in ("postinst", "postrm")
                          if os.path.exists(os.path.join(control, n)))
        check("ldconfig" not in scripts.replace("ldconfig trigger", ""),
              "its maintainer scripts do not call ldconfig")
        check("shlibs" in os.listdir(control), "a shlibs file for the worker library's dependents")

    # The man page is the one in docs/man, gzipped.
    with tempfile.TemporaryDirectory() as tmp:
        run(["dpkg-deb", "-x", deb, tmp], check=True)
        with gzip.open(os.path.join(tmp, "usr/share/man/man1/memvisor.1.gz"), "rb") as f:
            packaged = f.read()
        with open(os.path.join(source_dir, "docs/man/memvisor.1"), "rb") as f:
            check(packaged == f.read(), "the packaged man page is docs/man/memvisor.1")


def check_dependencies_resolve(deb):
    """apt's own resolution of the package's Depends, as `apt-get install ./memvisor_*.deb`
    would do it (simulated: nothing is installed)."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print("note  apt-get simulation skipped (needs root)")
        return
    result = run(["apt-get", "install", "-s", "-q", os.path.abspath(deb)],
                 env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    check(result.returncode == 0 and "Inst memvisor" in result.stdout,
          "apt-get install -s ./memvisor_*.deb resolves every dependency")
    if result.returncode != 0:
        print(result.stdout[-2000:], result.stderr[-2000:])


def build_cpp_worker(root, source, out):
    """The C++ example, compiled against the installed headers and library through the
    installed pkg-config file (which finds its prefix from where it lies)."""
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(root, "usr/lib/pkgconfig"),
               PKG_CONFIG_LIBDIR=os.path.join(root, "usr/lib/pkgconfig"))
    flags = run(["pkg-config", "--cflags", "--libs", "memvisor-worker"], env=env)
    if not check(flags.returncode == 0, "pkg-config finds memvisor-worker in the root"):
        return False
    include = os.path.normpath(os.path.join(root, "usr/include"))
    check(any(os.path.normpath(f[2:]) == include for f in flags.stdout.split() if f.startswith("-I")),
          f"pkg-config points into the root: {flags.stdout.strip()}")
    result = run(["c++", "-std=c++17", "-O1", source, *flags.stdout.split(),
                  "-Wl,-rpath," + os.path.join(root, "usr/lib"), "-o", out])
    ok = check(result.returncode == 0, "the C++ example builds against the installed library")
    if not ok:
        print(result.stderr[-3000:])
    return ok


def instance_pid(status, service):
    for record in status.get("instances", []):
        if record.get("service") == service and record.get("state") == "running":
            return record.get("pid")
    return None


def environ_of(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        return dict(entry.split("=", 1) for entry in f.read().decode(errors="replace").split("\0")
                    if "=" in entry)


def run_installed(root, tmp):
    memvisor = os.path.join(root, "usr/bin/memvisor")
    examples = os.path.join(root, "usr/share/doc/memvisor/examples")
    result = run([memvisor, "check", os.path.join(examples, "web.toml")])
    check(result.returncode == 0 and result.stdout.startswith("ok:"),
          f"installed memvisor checks the installed example: {result.stdout.strip()}")
    broken = os.path.join(tmp, "broken.toml")
    with open(broken, "w") as f:
        f.write('[service.web]\ncommand = ["true"]\ninstances = "two"\n')
    result = run([memvisor, "check", broken])
    check(result.returncode == 2 and "broken.toml:3:" in result.stderr,
          f"and refuses a broken file with exit 2: {result.stderr.strip()}")

    cpp_worker = os.path.join(tmp, "cpp_worker")
    have_cpp = build_cpp_worker(root, os.path.join(examples, "workers/cpp_worker.cc"), cpp_worker)
    web_port, http_port, cpp_port = free_port(), free_port(), free_port()
    config = os.path.join(tmp, "memvisor.toml")
    with open(config, "w") as f:
        f.write(f"""[supervisor]
http = "127.0.0.1:{http_port}"

[service.web]
command = ["python3", "{examples}/workers/http_worker.py"]
listen = ["127.0.0.1:{web_port}"]
ready = "notify"
stop_signal = "SIGTERM"
stop_timeout = "5s"
heap_sampler = true
env = {{ PYTHONUNBUFFERED = "1" }}
""")
        if have_cpp:
            f.write(f"""
[service.native]
command = ["{cpp_worker}"]
ready = "notify"
heap_sampler = true
stop_timeout = "2s"
env = {{ PORT_BASE = "{cpp_port - 1}" }}
""")
    state = os.path.join(tmp, "state")
    env = {k: v for k, v in os.environ.items()
           if k not in ("MEMVISOR_SAMPLER_LIBRARY", "MEMVISOR_AGENTS_DIR", "MEMVISOR_STATE_DIR",
                        "LD_PRELOAD", "PYTHONPATH", "NOTIFY_SOCKET", "LISTEN_FDS")}
    log = open(os.path.join(tmp, "memvisor.log"), "w")
    proc = subprocess.Popen([memvisor, "run", config, "--state-dir", state], cwd=tmp, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    services = ["web"] + (["native"] if have_cpp else [])
    pids = []
    try:
        def status():
            r = run([memvisor, "status", "--json", "--state-dir", state], env=env, timeout=10)
            return json.loads(r.stdout) if r.returncode == 0 else {}

        def all_ready():
            s = status()
            ready = {x["name"]: x["ready"] for x in s.get("services", [])}
            return s if all(ready.get(name) == 1 for name in services) else None

        current = eventually(all_ready, 30)
        if not check(current is not None, "the installed memvisor runs both services, ready"):
            return
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/health", timeout=5) as r:
            check(r.status == 200, f"/health answers 200: {r.read().decode().strip()}")
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/", timeout=5) as r:
            check(r.status == 200, "the installed Python example serves on memvisor's socket")

        sampler = os.path.join(root, "usr/lib/libmemvisor_sampler.so")
        agents = os.path.join(root, "usr/share/memvisor/agents/python")
        for service in services:
            pid = instance_pid(current, service)
            pids.append(pid)
            environ = environ_of(pid)
            check(sampler in environ.get("LD_PRELOAD", ""),
                  f"{service}: the sampler preloaded from the root: {environ.get('LD_PRELOAD')}")
            with open(f"/proc/{pid}/maps") as f:
                check(sampler in f.read(), f"{service}: the root's sampler is mapped")
        check(agents in environ_of(pids[0]).get("PYTHONPATH", ""),
              "web: the Python agent comes from the root's share/memvisor/agents")

        # A real sample through each: the Python agent, and the native sampler. The native
        # window opens and closes at the worker's allocations: requests keep it allocating.
        stop_load = threading.Event()

        def load():
            while not stop_load.wait(0.05):
                for port in (web_port, cpp_port):
                    try:
                        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
                    except OSError:
                        pass

        loader = threading.Thread(target=load, daemon=True)
        loader.start()
        for service, runtime in [("web", "python"), ("native", "native")][:len(services)]:
            out = os.path.join(tmp, f"{service}.json")
            r = run([memvisor, "sample", f"{service}.1", "--duration", "1s", "--timeout", "20s",
                     "--out", out, "--state-dir", state], env=env, timeout=60)
            ok = r.returncode == 0 and os.path.exists(out)
            report = json.load(open(out)) if ok else {}
            check(ok and report.get("runtime") == runtime,
                  f"memvisor sample {service}.1 gives a {runtime} report "
                  f"({report.get('runtime')}; {r.stderr.strip()[-300:]})")
        stop_load.set()
        loader.join()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        log.close()
    check(code == 0, f"SIGTERM stops the installed memvisor cleanly (exit {code})")
    check(all(p and not os.path.exists(f"/proc/{p}") for p in pids), "no instance outlives it")
    if failures:
        print(open(os.path.join(tmp, "memvisor.log")).read()[-4000:])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--source-dir", required=True)
    args = parser.parse_args()
    build_dir = os.path.abspath(args.build_dir)
    source_dir = os.path.abspath(args.source_dir)
    version = run([os.path.join(build_dir, "memvisor"), "--version"]).stdout.split()[-1]

    tmp = tempfile.mkdtemp(prefix="memvisor-package-")
    try:
        started = time.monotonic()
        deb = build_package(build_dir, os.path.join(tmp, "out"))
        print(f"note  cpack took {time.monotonic() - started:.1f}s, "
              f"package {os.path.getsize(deb) / 1024:.0f} KiB")
        check_contents(deb, source_dir, version)
        check_dependencies_resolve(deb)
        root = os.path.join(tmp, "root")
        run(["dpkg-deb", "-x", deb, root], check=True)
        run_installed(root, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"package_test: {len(failures)} check(s) failed: " + "; ".join(failures))
        sys.exit(1)
    print("package_test: every check passed")


if __name__ == "__main__":
    main()
