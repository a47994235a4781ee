"""Unit tests of memvisor's Python agent (agents/python), run by ctest with /usr/bin/python3:
qualified names from the source, modules and the standard library's frames, the sitecustomize
chain, inertness without MEMVISOR_SAMPLER_DIR, the protocol's refusals, and the fork warning of
Python >= 3.12 when such a Python is found (pyenv)."""
import glob
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
AGENTS = os.path.join(ROOT, "agents", "python")
sys.path.insert(0, AGENTS)
import memvisor_heap_agent as agent  # noqa: E402  (install() is not called: nothing starts)
import memvisor_heap_profile as profile  # noqa: E402


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "MEMVISOR_SAMPLER_DIR", "PYTHONTRACEMALLOC")}
    env.update(extra)
    return env


class FunctionNames(unittest.TestCase):
    def test_innermost_def_or_class_by_line(self):
        source = textwrap.dedent('''\
            import os
            class Store:
                def keep(self):
                    return [1]
                async def fetch(self):
                    def inner():
                        return {}
                    return inner()
            def top():
                return "x" * 10
            VALUE = top()
            ''')
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write(source)
        try:
            names = profile.function_lines(f.name)
        finally:
            os.unlink(f.name)
        self.assertEqual(names[1], "<module>")
        self.assertEqual(names[2], "Store")
        self.assertEqual(names[4], "Store.keep")
        self.assertEqual(names[7], "Store.fetch.<locals>.inner")
        self.assertEqual(names[8], "Store.fetch")
        self.assertEqual(names[10], "top")
        self.assertEqual(names[11], "<module>")

    def test_unreadable_source_gives_no_names(self):
        self.assertEqual(profile.function_lines("/nonexistent/app.py"), [])
        self.assertEqual(profile.SourceIndex().function("/nonexistent/app.py", 3), "?")


class Modules(unittest.TestCase):
    def test_stdlib_is_plumbing_and_named_by_package(self):
        import json.decoder

        index = profile.SourceIndex()
        self.assertTrue(index.plumbing(json.decoder.__file__))
        self.assertEqual(index.module(json.decoder.__file__), "json")
        self.assertTrue(index.plumbing("<frozen importlib._bootstrap>"))
        self.assertTrue(index.plumbing(agent.__file__))
        self.assertFalse(index.plumbing(__file__))

    def test_site_packages_are_not_plumbing(self):
        import sysconfig

        purelib = sysconfig.get_paths()["purelib"]
        index = profile.SourceIndex()
        self.assertFalse(index.plumbing(os.path.join(purelib, "requests", "api.py")))


def run_python(code, env, python=sys.executable):
    return subprocess.run([python, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60)


class Loader(unittest.TestCase):
    def test_inert_without_the_sampler_dir(self):
        # Without MEMVISOR_SAMPLER_DIR, the loader imports nothing Python would not have imported.
        code = "import sys; print(' '.join(sorted(sys.modules)))"
        plain = run_python(code, clean_env())
        loaded = run_python(code, clean_env(PYTHONPATH=AGENTS))
        self.assertEqual(loaded.stderr, "")
        extra = set(loaded.stdout.split()) - set(plain.stdout.split())
        self.assertLessEqual(extra, {"sitecustomize"})

    def test_chains_to_the_next_sitecustomize(self):
        with tempfile.TemporaryDirectory() as other:
            with open(os.path.join(other, "sitecustomize.py"), "w") as f:
                f.write("import builtins\nbuiltins.CHAINED = __name__\n")
            code = "import sitecustomize; print(CHAINED, sitecustomize.__file__)"
            out = run_python(code, clean_env(PYTHONPATH=AGENTS + ":" + other))
            self.assertEqual(out.stderr, "")
            self.assertEqual(out.stdout.split(), ["sitecustomize",
                                                  os.path.join(other, "sitecustomize.py")])

    def test_a_failing_chained_sitecustomize_reports_as_without_memvisor(self):
        with tempfile.TemporaryDirectory() as other:
            with open(os.path.join(other, "sitecustomize.py"), "w") as f:
                f.write("raise RuntimeError('broken site')\n")
            alone = run_python("print('app')", clean_env(PYTHONPATH=other))
            chained = run_python("print('app')", clean_env(PYTHONPATH=AGENTS + ":" + other))
            self.assertIn("broken site", alone.stderr)
            self.assertEqual((chained.stdout, chained.stderr), (alone.stdout, alone.stderr))


class AgentChild(unittest.TestCase):
    """A real agent in a child Python."""

    extra_env = {}

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.child = subprocess.Popen(
            [sys.executable, "-c", "import time\nwhile True: time.sleep(0.05)"],
            env=clean_env(PYTHONPATH=AGENTS, MEMVISOR_SAMPLER_DIR=self.dir, **self.extra_env),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.path = os.path.join(self.dir, "%d.agent" % self.child.pid)
        deadline = time.monotonic() + 20
        while not os.path.exists(self.path) and time.monotonic() < deadline:
            time.sleep(0.02)

    def tearDown(self):
        self.child.terminate()
        out, err = self.child.communicate(timeout=20)
        self.assertEqual(out + err, b"")  # the agent never writes on the app's streams
        for leftover in glob.glob(os.path.join(self.dir, "*")):
            os.unlink(leftover)
        os.rmdir(self.dir)

    def ask(self, request):
        conn = socket.socket(socket.AF_UNIX)
        conn.settimeout(20)
        conn.connect(self.path)
        conn.sendall((json.dumps(request) + "\n").encode())
        return conn, conn.makefile("rb")


class Protocol(AgentChild):
    """Refusals the agent must answer with one error line, and one window at a time."""

    def test_socket_mode_and_bad_request(self):
        self.assertEqual(os.stat(self.path).st_mode & 0o777, 0o600)
        _, lines = self.ask({"duration_ms": "soon"})
        reply = json.loads(lines.readline())
        self.assertEqual(reply["state"], "error")
        self.assertIn("duration_ms", reply["error"])

    def test_one_window_at_a_time_and_a_hang_up_ends_it(self):
        first, first_lines = self.ask({"protocol": 1, "duration_ms": 60000, "frames": 4})
        self.assertEqual(json.loads(first_lines.readline()), {"state": "recording"})
        _, second_lines = self.ask({"protocol": 1, "duration_ms": 1000})
        busy = json.loads(second_lines.readline())
        self.assertEqual(busy["state"], "error")
        self.assertIn("already open", busy["error"])
        first_lines.close()
        first.close()  # memvisor gone: the window ends, the next one can start
        deadline = time.monotonic() + 20
        while True:
            _, lines = self.ask({"protocol": 1, "duration_ms": 200})
            reply = json.loads(lines.readline())
            if reply["state"] == "recording" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(reply, {"state": "recording"})
        done = json.loads(lines.readline())
        self.assertEqual(done["state"], "done")
        self.assertEqual(done["profile"]["runtime"], "python")


class AppTracing(AgentChild):
    """An app that runs tracemalloc itself: the agent refuses rather than stop the app's tracing."""

    extra_env = {"PYTHONTRACEMALLOC": "1"}

    def test_the_window_is_refused(self):
        _, lines = self.ask({"protocol": 1, "duration_ms": 100})
        reply = json.loads(lines.readline())
        self.assertEqual(reply["state"], "error")
        self.assertIn("tracemalloc is already tracing", reply["error"])


def newer_pythons():
    found = []
    for path in sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[2-9]*/bin/python3"))):
        found.append(path)
    return found


class ForkWarning(unittest.TestCase):
    PROGRAM = textwrap.dedent('''\
        import os, threading, time, warnings
        warnings.simplefilter("default")
        if os.environ.get("APP_THREAD"):
            threading.Thread(target=time.sleep, args=(2,), daemon=True).start()
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        print("forked")
        ''')

    def test_only_the_agents_thread_never_warns_but_an_apps_thread_still_does(self):
        pythons = newer_pythons()
        if not pythons:
            self.skipTest("no Python >= 3.12 found")
        with tempfile.TemporaryDirectory() as d:
            for python in pythons:
                env = clean_env(PYTHONPATH=AGENTS, MEMVISOR_SAMPLER_DIR=d)
                quiet = run_python(self.PROGRAM, env, python)
                self.assertEqual((quiet.stdout, quiet.stderr), ("forked\n", ""), python)
                env["APP_THREAD"] = "1"
                loud = run_python(self.PROGRAM, env, python)
                self.assertIn("multi-threaded", loud.stderr, python)


if __name__ == "__main__":
    unittest.main()
