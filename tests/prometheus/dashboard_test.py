#!/usr/bin/env python3
"""Checks deploy/grafana/memvisor.json and the names in deploy/prometheus/memvisor.rules.yml
against what a real memvisor exports.

- The dashboard parses; its data source is the template variable ${datasource} everywhere.
- Every panel query and every variable's query is valid PromQL: each, with the template
  variables substituted, becomes a recording rule in a temporary file that `promtool check
  rules` must accept (a deliberately broken one must be refused, so the check can fail).
- Every metric name the dashboard and the rules read is one memvisor exports. The names come
  from a real memvisor's /metrics (its `# TYPE` lines: every family is declared even before it has
  a sample), not from a list kept by hand, so that a renamed series breaks this test. Only
  Prometheus's own `up` and `ALERTS` are allowed besides. That /metrics also passes
  `promtool check metrics`.

Usage: dashboard_test.py --memvisor PATH [--source DIR]
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from common import free_port, parse_args, stop

PROMETHEUS_OWN = {"up", "ALERTS"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset", "inf", "nan"}
# Grafana's own variables, as a query sees them once Grafana has filled them in.
GRAFANA_BUILTINS = {"__rate_interval": "1m", "__interval": "1m", "__range": "1h"}


def metric_names(expr):
    """The metric names an expression selects: identifiers that are not functions, keywords,
    label names (in {...}, by/on/... lists) or parts of durations and numbers."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", "", e)
    e = re.sub(r"\[[^\]]*\]", "", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", e):
        before = e[m.start() - 1] if m.start() > 0 else " "
        if before.isdigit() or before == ".":
            continue  # 1e3, 5m
        if e[m.end():].lstrip().startswith("(") or m.group(0).lower() in KEYWORDS:
            continue
        names.add(m.group(0))
    return names


def substitute(expr, variables):
    def value(m):
        name = m.group(1) or m.group(2)
        return GRAFANA_BUILTINS.get(name, variables.get(name, ".*"))
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


def promtool_check(rules, path):
    with open(path, "w") as f:
        json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, f, indent=1)
    run = subprocess.run(["promtool", "check", "rules", path], capture_output=True, text=True)
    return run.returncode, run.stdout + run.stderr


def exported_by_memvisor(memvisor, source, tmp):
    """Runs memvisor with every kind of rule the dashboard reads and returns (the family names of
    its /metrics, the text)."""
    port = free_port()
    worker = os.path.join(source, "tests", "prometheus", "worker.py")
    config = os.path.join(tmp, "memvisor.toml")
    with open(config, "w") as f:
        f.write(f"""[supervisor]
http = "127.0.0.1:{port}"

[service.web]
command = ["python3", "{worker}", "steady"]
instances = 2
interval = "200ms"
warn = "1GiB"
limit = "2GiB"
critical = "3GiB"
leak = {{ rate = "10MiB/h", action = "alert" }}
""")
    log = open(os.path.join(tmp, "memvisor.log"), "w")
    proc = subprocess.Popen([memvisor, "run", "--state-dir", os.path.join(tmp, "state"), config],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 30
        while time.monotonic() < end:
            if proc.poll() is not None:
                raise SystemExit(f"FAIL: memvisor exited ({proc.returncode})")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    text = r.read().decode()
                if 'memvisor_instance_memory_bytes{service="web",instance="2"' in text:
                    names = set(re.findall(r"(?m)^# TYPE (\S+) ", text))
                    return names, text
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit("FAIL: memvisor's /metrics never showed both instances' memory")
    finally:
        stop(proc)


def panels_of(dashboard):
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # a collapsed row keeps its panels inside


def main():
    args = parse_args()
    source = args.source
    failures = []
    tmp = tempfile.mkdtemp(prefix="memvisor-dashboard-")
    try:
        with open(os.path.join(source, "deploy", "grafana", "memvisor.json")) as f:
            dashboard = json.load(f)

        # The data source is a variable, so the dashboard imports into any Grafana.
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        if variables.get("datasource", {}).get("type") != "datasource":
            failures.append("no `datasource` template variable of type datasource")
        substitutions = {}
        for name, v in variables.items():
            if v.get("type") == "custom" and v.get("current", {}).get("value"):
                value = v["current"]["value"]
                substitutions[name] = "|".join(value) if isinstance(value, list) else value

        queries = []  # (where, expr)
        for panel in panels_of(dashboard):
            if panel.get("type") == "row":
                continue
            where = f"panel {panel.get('id')} {panel.get('title')!r}"
            if panel.get("datasource", {}).get("uid") != "${datasource}":
                failures.append(f"{where}: datasource is not ${{datasource}}")
            if not panel.get("targets"):
                failures.append(f"{where}: no query")
            for target in panel.get("targets", []):
                if target.get("datasource", {}).get("uid") != "${datasource}":
                    failures.append(f"{where} {target.get('refId')}: datasource is not "
                                    "${datasource}")
                queries.append((f"{where} {target.get('refId')}", target["expr"]))
        for name, v in variables.items():
            if v.get("type") != "query":
                continue
            query = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\)\s*", query, re.S)
            if not m:
                failures.append(f"variable {name}: not label_values(SELECTOR, LABEL): {query}")
                continue
            queries.append((f"variable {name}", m.group(1)))
        print(f"{len(queries)} queries in {sum(1 for _ in panels_of(dashboard))} panels and rows")

        # Valid PromQL, by promtool.
        rules = [{"record": f"dashboard_query_{i}", "expr": substitute(expr, substitutions)}
                 for i, (_, expr) in enumerate(queries)]
        code, output = promtool_check(rules, os.path.join(tmp, "dashboard.rules.json"))
        if code != 0:
            failures.append(f"promtool check rules refused the dashboard's queries:\n{output}")
        broken = [{"record": "dashboard_query_broken", "expr": "sum by (service (up)"}]
        code, _ = promtool_check(broken, os.path.join(tmp, "broken.rules.json"))
        if code == 0:
            failures.append("promtool accepted a broken expression: the check proves nothing")

        # Names memvisor exports, from a real one; and its exposition passes promtool's lint.
        exported, text = exported_by_memvisor(args.memvisor, source, tmp)
        print(f"memvisor exports {len(exported)} families: {' '.join(sorted(exported))}")
        lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                              text=True)
        if lint.returncode != 0:
            failures.append(f"promtool check metrics: {lint.stdout}{lint.stderr}")
        if "memvisor_no_such_series" not in metric_names('rate(memvisor_no_such_series[5m])'):
            failures.append("metric_names() misses a name: the name check proves nothing")

        used = set()
        for where, expr in queries:
            names = metric_names(substitute(expr, substitutions))
            used |= names
            for name in sorted(names - exported - PROMETHEUS_OWN):
                failures.append(f"{where}: {name} is not a series memvisor exports")

        # What the issue asks the dashboard to show.
        for name in ("memvisor_service_memory_bytes", "memvisor_instance_memory_bytes",
                     "memvisor_instance_leak_slope_bytes_per_second",
                     "memvisor_instance_recycles_total", "memvisor_instance_restarts_total",
                     "memvisor_service_ready_instances", "memvisor_service_desired_instances",
                     "process_cpu_seconds_total", "process_resident_memory_bytes", "ALERTS"):
            if name not in used:
                failures.append(f"the dashboard does not show {name}")

        # The alerting rules read only exported names (or their own recorded ones, or `up`).
        rules_path = os.path.join(source, "deploy", "prometheus", "memvisor.rules.yml")
        with open(rules_path) as f:
            rules_text = f.read()
        recorded = set(re.findall(r"(?m)^\s*- record: (\S+)", rules_text))
        exprs = re.findall(r"(?ms)^([ ]*)expr: \|\n(.*?)(?=^\1\S)", rules_text)
        exprs = [body for _, body in exprs]
        exprs += re.findall(r"(?m)^\s*expr: ([^|\n].*)$", rules_text)
        rule_names = set()
        for expr in exprs:
            rule_names |= metric_names(expr)
        for name in sorted(rule_names - exported - recorded - PROMETHEUS_OWN):
            failures.append(f"memvisor.rules.yml: {name} is not a series memvisor exports")
        print(f"the rules read {len(rule_names)} names: {' '.join(sorted(rule_names))}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    if failures:
        print("FAIL:\n  " + "\n  ".join(failures), file=sys.stderr)
        print("0 passed, 1 failed")
        sys.exit(1)
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
