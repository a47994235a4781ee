#!/usr/bin/env python3
"""The dashboard page in a real headless Chromium against a real memvisor.

memvisor runs two steady workers and one that grows past `critical`; Chromium (Debian's, driven
over its DevTools protocol on --remote-debugging-pipe, python3 stdlib only) opens the page and
the test checks, as a person would see it: no console error or exception, a row and a chart for
every instance, a chart whose point count grows between two looks, the critical incident listed
with a link that answers 200. Around it: the security headers, traversal attempts on
/incidents/ that get 404, and the negative control: an inline script injected into the page does
not run (the Content-Security-Policy blocks it and reports a violation).

  dashboard_test.py --memvisor build/memvisor [--screenshot out.png]
"""
import argparse
import base64
import http.client
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STEADY = "import time\nx = bytearray(12 << 20)\nfor i in range(0, len(x), 4096): x[i] = 1\n" \
         "while True: time.sleep(1)\n"
# Grows 2 MiB every 250 ms (touching the pages, so they count) until killed by `critical`.
GROW = "import time\nkeep = []\nwhile True:\n  b = bytearray(2 << 20)\n" \
       "  for i in range(0, len(b), 4096): b[i] = 1\n  keep.append(b)\n  time.sleep(0.25)\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path):
    """(status, headers, body) of a GET sent exactly as given (no path normalisation)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def eventually(what, timeout, step=0.25):
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


class Chromium:
    """Chromium over --remote-debugging-pipe: JSON messages ended by NUL on fds 3 (in) and 4."""

    def __init__(self, profile):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        # Chromium reads fd 3 and writes fd 4. Through high numbers first, so that neither
        # pipe end is overwritten by the other's dup2 when the pipes got 3 or 4 themselves;
        # pass_fds keeps 3 and 4 open past subprocess's closing of the rest.
        def wire():
            high_r = os.dup(to_chrome_r)
            high_w = os.dup(from_chrome_w)
            os.dup2(high_r, 3, inheritable=True)
            os.dup2(high_w, 4, inheritable=True)

        self.stderr = open(os.path.join(profile, "chromium.log"), "wb")
        self.proc = subprocess.Popen(
            ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--remote-debugging-pipe", "--user-data-dir=" + profile,
             "--window-size=1280,800", "about:blank"],
            preexec_fn=wire, pass_fds=(3, 4), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=self.stderr)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buffer = b""
        self.next_id = 0
        self.events = []  # every event seen, in order
        self.session = None

    def _read_message(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_chrome], [], [], left)[0]:
                raise TimeoutError("no message from chromium")
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise EOFError("chromium closed its pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read_message(timeout)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def open_page(self):
        targets = self.send("Target.getTargets", session=False)["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.send("Target.attachToTarget",
                                 {"targetId": page["targetId"], "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Runtime.enable", "Log.enable", "Page.enable"):
            self.send(domain)
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False})

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate",
                           {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluate: {result['exceptionDetails']}")
        return result["result"].get("value")

    def problems(self):
        """Console errors and warnings, uncaught exceptions, and error log entries."""
        found = []
        for e in self.events:
            method, params = e["method"], e.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning",
                                                                                 "assert"):
                found.append(("console." + params["type"],
                              [a.get("value", a.get("description")) for a in params["args"]]))
            elif method == "Runtime.exceptionThrown":
                found.append(("exception", params["exceptionDetails"].get("exception", {})
                              .get("description", params["exceptionDetails"].get("text"))))
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                found.append(("log." + params["entry"]["level"], params["entry"].get("text"),
                              params["entry"].get("url")))
        return found

    def close(self):
        try:
            self.send("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()


# What the page shows, read from its DOM.
LOOK = """(() => ({
  rows: [...document.querySelectorAll('#instances tbody tr[data-instance]')].map(r => ({
      unit: r.dataset.instance, cells: [...r.cells].map(c => c.textContent)})),
  charts: Object.fromEntries([...document.querySelectorAll('#charts .chart')].map(
      c => [c.dataset.instance, Number(c.dataset.points || 0)])),
  legends: Object.fromEntries([...document.querySelectorAll('#charts .chart')].map(
      c => [c.dataset.instance, (c.querySelector('.legend') || {}).textContent || ''])),
  canvases: document.querySelectorAll('#charts canvas').length,
  events: document.querySelectorAll('#events li.event').length,
  incidents: [...document.querySelectorAll('#incidents li.incident')].map(li => ({
      id: li.dataset.id, text: li.textContent,
      links: [...li.querySelectorAll('a')].map(a => a.getAttribute('href'))})),
  connection: (document.getElementById('connection') || {}).textContent,  // null until loaded
}))()"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--memvisor", required=True)
    parser.add_argument("--screenshot", help="also save the page at 1280x800 here (PNG)")
    args = parser.parse_args()

    failures = []

    def check(ok, what):
        print(("ok   " if ok else "FAIL ") + what, flush=True)
        if not ok:
            failures.append(what)
        return ok

    if not shutil.which("chromium"):
        print("FAIL chromium is not installed: run scripts/setup", flush=True)
        return 1

    work = tempfile.mkdtemp(prefix="memvisor-dashboard-")
    port = free_port()
    config = os.path.join(work, "dashboard.toml")
    with open(config, "w") as f:
        f.write(f"""[supervisor]
http = "127.0.0.1:{port}"

[service.api]
command = ["python3", "-c", {json.dumps(STEADY)}]
instances = 2
interval = "250ms"
warn = "60MiB"
limit = "90MiB"

[service.jobs]
command = ["python3", "-c", {json.dumps(GROW)}]
interval = "250ms"
warn = "24MiB"
critical = "40MiB"

[service.queue]
command = ["python3", {json.dumps(os.path.join(SOURCE, "examples/gauges/gauge_worker.py"))}]
interval = "250ms"
env = {{ QUEUE_DEPTH = "10" }}
limit = {{ size = 1000, for = 2, metric = "gauge:queue_depth" }}
""")
    memvisor = subprocess.Popen([args.memvisor, "run", "--state-dir", os.path.join(work, "state"),
                                 config], stdout=subprocess.DEVNULL,
                                stderr=open(os.path.join(work, "memvisor.log"), "wb"))
    browser = None
    try:
        up = eventually(lambda: _status(port) == 200, 20)
        if not check(up, "memvisor answers /health"):
            return 1

        # Headers: the page's policy, no sniffing; the page's files and endpoints.
        status, headers, body = get(port, "/")
        csp = headers.get("content-security-policy", "")
        check(status == 200 and b'<script src="/dashboard.js"' in body, "GET / is the page")
        check("default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe" not in csp,
              f"the page's Content-Security-Policy allows only memvisor's own files: {csp!r}")
        check(headers.get("x-content-type-options") == "nosniff", "X-Content-Type-Options nosniff")
        status, headers, _ = get(port, "/dashboard.js")
        check(status == 200 and "javascript" in headers.get("content-type", ""),
              "/dashboard.js served as JavaScript")
        status, _, _ = get(port, "/uplot.js")
        check(status == 200, "/uplot.js served")
        for path in ("/incidents/../../../etc/passwd", "/incidents/..%2f..%2fevents.jsonl",
                     "/incidents/x/../../events.jsonl", "/incidents/.tmp/x"):
            check(get(port, path)[0] == 404, f"traversal attempt {path} gets 404")

        # The page in Chromium.
        profile = os.path.join(work, "chromium")
        os.makedirs(profile)
        browser = Chromium(profile)
        browser.open_page()
        browser.send("Page.navigate", {"url": f"http://127.0.0.1:{port}/"})
        units = {"api.1", "api.2", "jobs.1", "queue.1"}

        def every_instance():
            look = browser.evaluate(LOOK)
            shown = {r["unit"] for r in look["rows"]}
            charted = {u for u, n in look["charts"].items() if n > 0}
            return look if units <= shown and units <= charted else None

        first = eventually(every_instance, 30)
        if check(first is not None, "the page shows a row and a chart for every instance"):
            check(first["canvases"] >= 3, "each chart is drawn (a canvas per instance)")
            check(first["connection"] == "live", "the page says it is live")
            before = first["charts"]["api.1"]
            grown = eventually(lambda: browser.evaluate(LOOK)["charts"].get("api.1", 0) > before,
                               20)
            check(bool(grown), f"api.1's chart grows from {before} points between two looks")

            # A limit on a gauge is in the gauge's unit: no share of it for the memory (the row
            # showed 800000 % in red), and the chart names it without drawing it as bytes.
            look = browser.evaluate(LOOK)
            queue = next((r for r in look["rows"] if r["unit"] == "queue.1"), None)
            share = " ".join(queue["cells"]) if queue else ""
            check(queue is not None and "no limit" in share and "%" not in share,
                  f"a limit on a gauge is no share of the memory: {share!r}")
            legend = look["legends"].get("queue.1", "")
            check("gauge:queue_depth, not drawn" in legend and "1,000" in legend,
                  f"the chart names the gauge's limit in its unit: {legend!r}")

        def critical_incident():
            for incident in browser.evaluate(LOOK)["incidents"]:
                if "critical" in incident["text"] and any(
                        l.endswith("/summary.txt") for l in incident["links"]):
                    return incident
            return None

        incident = eventually(critical_incident, 40)
        if check(incident is not None, "a critical incident is listed with a link to its summary"):
            link = next(l for l in incident["links"] if l.endswith("/summary.txt"))
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{link}", timeout=10) as r:
                text = r.read().decode()
                check(r.status == 200 and "critical" in text,
                      f"its link {link} answers 200 with the summary")
            chart = next((l for l in incident["links"] if l.endswith(".svg")), None)
            if chart:
                status, headers, _ = get(port, chart)
                check(status == 200 and headers.get("content-type") == "image/svg+xml"
                      and "sandbox" in headers.get("content-security-policy", ""),
                      "its chart is served as a sandboxed SVG")
            prefix = "/incidents/" + incident["id"] + "/"
            for path in (prefix + "../../events.jsonl", prefix + "..%2f..%2fevents.jsonl",
                         prefix + ".", prefix + "nope.txt"):
                check(get(port, path)[0] == 404, f"{path} gets 404")
        look = browser.evaluate(LOOK)
        check(look["events"] > 0, f"the events stream shows events ({look['events']})")

        if args.screenshot:
            shot = browser.send("Page.captureScreenshot", {"format": "png"})
            with open(args.screenshot, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            print(f"     screenshot: {args.screenshot}")

        problems = browser.problems()
        check(not problems, f"no console error, warning or exception: {problems}")

        # Negative control: an inline script added to the page does not run, and the browser
        # reports the policy violation.
        ran = browser.evaluate("""(() => {
            window.__violations = 0;
            document.addEventListener('securitypolicyviolation', () => { window.__violations++; });
            window.__inlineRan = false;
            const s = document.createElement('script');
            s.textContent = 'window.__inlineRan = true';
            document.body.append(s);
            return window.__inlineRan;
        })()""")
        check(ran is False, "an injected inline script does not run")
        violated = eventually(lambda: browser.evaluate("window.__violations") > 0, 5)
        check(bool(violated), "the Content-Security-Policy reported the inline script")
    finally:
        if browser:
            browser.close()
        memvisor.send_signal(signal.SIGTERM)
        try:
            memvisor.wait(timeout=30)
        except subprocess.TimeoutExpired:
            memvisor.kill()
            memvisor.wait()
        if failures:
            log = os.path.join(work, "memvisor.log")
            print("memvisor's stderr (last lines):")
            with open(log, errors="replace") as f:
                print("".join(f.readlines()[-30:]))
        shutil.rmtree(work, ignore_errors=True)

    print(f"dashboard: {'FAILED: ' + '; '.join(failures) if failures else 'all checks passed'}")
    return 1 if failures else 0


def _status(port):
    try:
        return get(port, "/health")[0]
    except OSError:
        return None


if __name__ == "__main__":
    sys.exit(main())
