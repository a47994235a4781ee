#!/usr/bin/env python3
"""End to end: a real memvisor runs a leaking worker and a steady one; a real Prometheus scrapes
it every second and evaluates deploy/prometheus/memvisor.rules.yml; a real Alertmanager routes
what fires to a webhook served by this script. The leak alert for the leaking worker must reach
the webhook, and no alert may name the steady worker.

The rules are the shipped file with one change, made here in a temporary copy: every `for:` is
5s instead of minutes, so that the test takes minutes, not hours. The expressions, labels and
annotations are the shipped ones. The time it takes is mostly memvisor's own leak detector, which
judges 30 s floor buckets, needs five of them before it judges a span and two leak verdicts in a
row (the alert arrives about 3.5 minutes after start).

Loopback only, free ports, a temporary directory; every process started here is stopped at the
end. Usage: alertmanager_test.py --memvisor PATH [--source DIR]
"""
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

from common import free_port, parse_args, stop

DEADLINE_S = 360  # the leak detector needs ~3.5 minutes; scrape, rules and routing add seconds


class Webhook(http.server.BaseHTTPRequestHandler):
    """Alertmanager's webhook receiver: keeps every alert it is sent."""

    received = []
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with Webhook.lock:
            Webhook.received.extend(json.loads(body).get("alerts", []))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def query(prometheus, expr):
    url = f"http://127.0.0.1:{prometheus}/api/v1/query?query={urllib.parse.quote(expr)}"
    return get_json(url)["data"]["result"]


def wait_http(url, what, procs, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise SystemExit(f"FAIL: {name} exited ({proc.returncode}) while waiting for {what}")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"FAIL: {what} did not answer at {url} within {timeout}s")


def main():
    args = parse_args()
    source = args.source
    for tool in ("prometheus", "prometheus-alertmanager"):
        if shutil.which(tool) is None:
            raise SystemExit(f"FAIL: {tool} is not installed (scripts/setup installs it)")

    tmp = tempfile.mkdtemp(prefix="memvisor-alertmanager-")
    procs = {}
    server = None
    try:
        memvisor_port, prometheus_port, alertmanager_port = free_port(), free_port(), free_port()
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
        webhook_port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()

        worker = os.path.join(source, "tests", "prometheus", "worker.py")
        with open(os.path.join(tmp, "memvisor.toml"), "w") as f:
            f.write(f"""[supervisor]
http = "127.0.0.1:{memvisor_port}"

[service.leaky]
command = ["python3", "{worker}", "leak", "2"]
interval = "200ms"
leak = {{ rate = "10MiB/h", action = "alert", warmup = "0s" }}

[service.steady]
command = ["python3", "{worker}", "steady"]
interval = "200ms"
leak = {{ rate = "10MiB/h", action = "alert", warmup = "0s" }}
""")
        with open(os.path.join(source, "deploy", "prometheus", "memvisor.rules.yml")) as f:
            rules = f.read()
        shortened = re.sub(r"(?m)^(\s+for:) \S+$", r"\1 5s", rules)
        assert shortened != rules, "the rules have no `for:` to shorten"
        with open(os.path.join(tmp, "rules.yml"), "w") as f:
            f.write(shortened)
        with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:{alertmanager_port}']
scrape_configs:
  - job_name: memvisor
    static_configs:
      - targets: ['127.0.0.1:{memvisor_port}']
""")
        with open(os.path.join(tmp, "alertmanager.yml"), "w") as f:
            f.write(f"""route:
  receiver: webhook
  group_by: [alertname, instance, service, exported_instance]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: webhook
    webhook_configs:
      - url: http://127.0.0.1:{webhook_port}/alerts
""")

        def start(name, argv):
            log = open(os.path.join(tmp, name + ".log"), "w")
            procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=tmp,
                                           stdin=subprocess.DEVNULL)

        start("memvisor", [args.memvisor, "run", "--state-dir", os.path.join(tmp, "state"),
                           os.path.join(tmp, "memvisor.toml")])
        start("alertmanager", ["prometheus-alertmanager",
                               "--config.file=" + os.path.join(tmp, "alertmanager.yml"),
                               "--storage.path=" + os.path.join(tmp, "am"),
                               f"--web.listen-address=127.0.0.1:{alertmanager_port}",
                               "--cluster.listen-address="])  # no gossip port
        start("prometheus", ["prometheus", "--config.file=" + os.path.join(tmp, "prometheus.yml"),
                             "--storage.tsdb.path=" + os.path.join(tmp, "tsdb"),
                             f"--web.listen-address=127.0.0.1:{prometheus_port}"])
        wait_http(f"http://127.0.0.1:{memvisor_port}/metrics", "memvisor", procs)
        wait_http(f"http://127.0.0.1:{alertmanager_port}/-/ready", "alertmanager", procs)
        wait_http(f"http://127.0.0.1:{prometheus_port}/-/ready", "prometheus", procs)
        loaded = get_json(f"http://127.0.0.1:{prometheus_port}/api/v1/rules")["data"]["groups"]
        names = [rule["name"] for group in loaded for rule in group["rules"]]
        print(f"prometheus loaded {len(names)} rules", flush=True)
        if "MemvisorWorkerLeaking" not in names:
            raise SystemExit(f"FAIL: the leak alert is not among the loaded rules: {names}")

        started = time.monotonic()
        leak_alert = None
        while time.monotonic() - started < DEADLINE_S:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    raise SystemExit(f"FAIL: {name} exited ({proc.returncode})")
            with Webhook.lock:
                for alert in Webhook.received:
                    labels = alert["labels"]
                    if (labels.get("alertname") == "MemvisorWorkerLeaking"
                            and labels.get("service") == "leaky" and alert["status"] == "firing"):
                        leak_alert = alert
            if leak_alert:
                break
            time.sleep(1)
        elapsed = time.monotonic() - started
        if leak_alert is None:
            slopes = query(prometheus_port, "memvisor_instance_leak_slope_bytes_per_second")
            status = get_json(f"http://127.0.0.1:{memvisor_port}/status")
            reasons = {f"{i['service']}.{i['instance']}": i.get("memory", {}).get("leak_reason")
                       for i in status.get("instances", [])}
            raise SystemExit(f"FAIL: no MemvisorWorkerLeaking for leaky at the webhook within "
                             f"{DEADLINE_S}s; the leak rule says {reasons}; slopes in "
                             f"Prometheus: {slopes}; webhook got: {Webhook.received}")
        print(f"leak alert at the webhook {elapsed:.0f}s after start: {leak_alert['labels']}",
              flush=True)
        labels, annotations = leak_alert["labels"], leak_alert["annotations"]
        failures = []
        expected = {"job": "memvisor", "instance": f"127.0.0.1:{memvisor_port}",
                    "exported_instance": "1", "severity": "warning"}
        for key, value in expected.items():
            if labels.get(key) != value:
                failures.append(f"label {key}={labels.get(key)!r}, expected {value!r}")
        if f"leaky.1 on 127.0.0.1:{memvisor_port}" not in annotations.get("summary", ""):
            failures.append(f"summary does not name the worker: {annotations}")
        if "leaky.1" not in annotations.get("description", ""):
            failures.append(f"description does not name the worker: {annotations}")

        # The leaking worker's verdict is in Prometheus. The negative control: nothing pending,
        # firing or sent names the steady worker. Where the leak rule has judged it, its verdict
        # is no leak; its slope may still be above the rate (the step of its start, which is
        # why the alert needs the verdict) or absent (a floor too flat to fit).
        for service in ("leaky", "steady"):
            slope = query(prometheus_port,
                          f'memvisor_instance_leak_slope_bytes_per_second{{service="{service}"}}')
            verdict = query(prometheus_port,
                            f'memvisor_instance_leak_detected{{service="{service}"}}')
            shown = [float(s["value"][1]) for s in slope], [v["value"][1] for v in verdict]
            print(f"{service}: slope (B/s), leak detected: {shown}", flush=True)
            if service == "leaky" and shown[1] != ["1"]:
                failures.append(f"memvisor does not judge the leaking worker leaking: {verdict}")
            if service == "steady" and shown[1] not in ([], ["0"]):
                failures.append(f"memvisor judges the steady worker leaking: {verdict}")
        time.sleep(7)  # longer than the shortened `for:`: a steady alert would be firing by now
        active = get_json(f"http://127.0.0.1:{prometheus_port}/api/v1/alerts")["data"]["alerts"]
        with Webhook.lock:
            sent = list(Webhook.received)
        for alert in active + sent:
            if alert["labels"].get("service") == "steady":
                failures.append(f"an alert names the steady worker: {alert['labels']}")
        print(f"alerts active in prometheus: {sorted({a['labels']['alertname'] for a in active})}; "
              f"sent to the webhook: {len(sent)}", flush=True)
        if failures:
            raise SystemExit("FAIL:\n  " + "\n  ".join(failures))
        print("1 passed, 0 failed")
    except SystemExit:
        for name in procs:
            path = os.path.join(tmp, name + ".log")
            with open(path, errors="replace") as f:
                print(f"--- {name} log (tail)\n" + "".join(f.readlines()[-15:]), file=sys.stderr)
        raise
    finally:
        for name in ("prometheus", "alertmanager", "memvisor"):
            if name in procs:
                stop(procs[name])
        if server is not None:
            server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
