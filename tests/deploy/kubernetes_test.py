#!/usr/bin/env python3
"""deploy/kubernetes and deploy/docker, checked offline:
- `kubectl kustomize deploy/kubernetes` builds, and every object it gives (and every file) passes
  a strict schema check (deploy/tools/validate-k8s.js: kubernetes-models, unknown fields too);
  broken copies (a typo'd field, a wrong type, a duplicate key, an unknown kind) are refused;
- the manifests agree with the config and with each other: memvisor's HTTP binds where the
  kubelet reaches it, probes, annotations and the PodMonitor name its port, the memory rule of
  thumb holds against the container limit, the grace period outlasts the workers' stop, and the
  Dockerfile runs what the Deployment says; mutated copies must fail these checks too;
- the ConfigMap's memvisor.toml passes `memvisor check`, is deploy/docker/memvisor.toml, and runs
  as the container runs it: PID 1 of its own PID namespace, uid 10001, /health 200 on 0.0.0.0,
  stopped by SIGTERM within the grace period (as root; the rest runs as any user).

    kubernetes_test.py --memvisor build/memvisor --source-dir .
"""
import argparse
import copy
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request

failures = []
SRC = ""
TOOLS = ""


def check(condition, message):
    print(("ok    " if condition else "FAIL  ") + message, flush=True)
    if not condition:
        failures.append(message.splitlines()[0])
    return condition


def run(args, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    return subprocess.run(args, **kw)


def validate(text=None, files=()):
    """The strict schema check: (exit code, objects, messages)."""
    r = run(["node", os.path.join(TOOLS, "validate-k8s.js"), "--json", *(files or ["-"])],
            input=text)
    objects = json.loads(r.stdout) if r.stdout.strip() else []
    return r.returncode, objects, r.stderr


def yaml_to_json(path):
    script = "const fs=require('fs');console.log(JSON.stringify(require('yaml').parse(" \
             "fs.readFileSync(process.argv[1],'utf8'))))"
    return json.loads(run(["node", "-e", script, path], cwd=TOOLS, check=True).stdout)


SIZE_UNITS = {"": 1, "B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "Ki": 2**10, "Mi": 2**20,
              "Gi": 2**30, "KB": 10**3, "MB": 10**6, "GB": 10**9, "k": 10**3, "M": 10**6,
              "G": 10**9}


def size(text):
    m = re.fullmatch(r"([0-9.]+)\s*([A-Za-z]*)", str(text))
    return int(float(m.group(1)) * SIZE_UNITS[m.group(2)])


def seconds(text):
    total = 0.0
    for number, unit in re.findall(r"([0-9.]+)(ms|s|m|h)", text):
        total += float(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    return total


def rule_size(value):
    return size(value["size"] if isinstance(value, dict) else value)


def by_kind(objects):
    return {o["kind"]: o for o in objects}


def cross_check(objects, dockerfile):
    """What must agree between the objects, their config and the image. A list of problems."""
    problems = []
    kinds = by_kind(objects)
    deployment, configmap = kinds["Deployment"], kinds["ConfigMap"]
    pod = deployment["spec"]["template"]
    spec = pod["spec"]
    container = spec["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    args = container.get("command", []) + container.get("args", [])
    config_path = args[-1] if args else ""
    mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in spec.get("volumes", [])}

    # The config file the container runs comes from this ConfigMap.
    mount = mounts.get(os.path.dirname(config_path))
    key = os.path.basename(config_path)
    if args[:2] != ["/usr/bin/memvisor", "run"]:
        problems.append(f"the container does not run memvisor as PID 1: {args}")
    if not mount or volumes.get(mount["name"], {}).get("configMap", {}).get("name") != \
            configmap["metadata"]["name"] or key not in configmap["data"]:
        problems.append(f"{config_path} is not the ConfigMap's {key}")
    config = tomllib.loads(configmap["data"].get("memvisor.toml", ""))

    # HTTP: where the kubelet and Prometheus connect (the pod IP), on the port everyone names.
    http = config.get("supervisor", {}).get("http", "")
    host, _, port = http.rpartition(":")
    if host not in ("0.0.0.0", "[::]"):
        problems.append(f"[supervisor] http = {http!r}: the kubelet's probes reach the pod IP, "
                        "not loopback: bind 0.0.0.0")
    if not port.isdigit() or ports.get("metrics") != int(port):
        problems.append(f"container port 'metrics' {ports.get('metrics')} is not http's port {port}")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = container.get(probe, {}).get("httpGet", {})
        if get.get("path") != "/health" or get.get("port") not in ("metrics", ports.get("metrics")):
            problems.append(f"{probe} is not GET /health on the metrics port: {get}")
    notes = pod["metadata"].get("annotations", {})
    if notes.get("prometheus.io/port") != port or notes.get("prometheus.io/path") != "/metrics":
        problems.append(f"prometheus.io annotations do not name /metrics on {port}: {notes}")
    endpoints = kinds["PodMonitor"]["spec"]["podMetricsEndpoints"]
    if any(e.get("port") not in ports or e.get("path", "/metrics") != "/metrics" for e in endpoints):
        problems.append(f"the PodMonitor's endpoints name no container port: {endpoints}")

    # The workers' socket behind the Service.
    listens = [a for s in config.get("service", {}).values() for a in s.get("listen", [])]
    service_ports = kinds["Service"]["spec"]["ports"]
    for p in service_ports:
        target = p.get("targetPort")
        if (ports.get(target) if isinstance(target, str) else target) not in \
                [int(a.rpartition(":")[2]) for a in listens if not a.startswith("unix:")]:
            problems.append(f"Service port {p.get('name')} targets no listen address: {listens}")
    if any(not a.startswith(("0.0.0.0:", "[::]:")) for a in listens):
        problems.append(f"listen {listens}: the Service reaches the pod IP, bind 0.0.0.0")

    # Selectors select the pod.
    labels = pod["metadata"]["labels"]
    for kind in ("Deployment", "PodDisruptionBudget", "PodMonitor"):
        wanted = kinds[kind]["spec"]["selector"]["matchLabels"]
        if any(labels.get(k) != v for k, v in wanted.items()):
            problems.append(f"the {kind}'s selector {wanted} does not select the pod {labels}")
    if any(labels.get(k) != v for k, v in kinds["Service"]["spec"]["selector"].items()):
        problems.append("the Service's selector does not select the pod")

    # Memory: (instances + max_recycling) x critical + memvisor's own (64MiB) <= the limit.
    limit = size(container["resources"]["limits"]["memory"])
    worst = 64 * 2**20
    for name, service in config.get("service", {}).items():
        if "critical" not in service:
            problems.append(f"service {name} has no critical: the OOM killer would act first")
            continue
        worst += (service.get("instances", 1) + service.get("max_recycling", 1)) * \
            rule_size(service["critical"])
        if "limit" in service and rule_size(service["limit"]) >= rule_size(service["critical"]):
            problems.append(f"service {name}: limit is not below critical")
    if worst > limit:
        problems.append(f"(instances + max_recycling) x critical + 64MiB = {worst >> 20}MiB is over "
                        f"the container's memory limit {limit >> 20}MiB")

    # The grace period outlasts preStop and the longest stop sequence.
    pre = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    pre_s = float(pre[-1]) if pre[:1] == ["sleep"] else 0.0
    stop_s = max([seconds(s.get("stop_timeout", "10s")) + seconds(s.get("kill_timeout", "5s"))
                  for s in config.get("service", {}).values()] or [0])
    grace = spec.get("terminationGracePeriodSeconds", 30)
    if grace <= pre_s + stop_s:
        problems.append(f"terminationGracePeriodSeconds {grace} <= preStop {pre_s}s + "
                        f"stop_timeout + kill_timeout {stop_s}s")

    # Non-root with a writable state dir.
    security = spec.get("securityContext", {})
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    if not security.get("runAsNonRoot") or not security.get("runAsUser"):
        problems.append("the pod does not run as a non-root uid")
    if env.get("MEMVISOR_STATE_DIR") not in mounts:
        problems.append(f"MEMVISOR_STATE_DIR {env.get('MEMVISOR_STATE_DIR')} is no mounted volume")
    else:
        # What memvisor may keep there at its configured bounds fits the emptyDir, or the kubelet
        # evicts the pod: the bundles, the events log and its rotated files, the checkpoint
        # (at most 64 MiB).
        state_volume = volumes.get(mounts[env["MEMVISOR_STATE_DIR"]]["name"], {})
        limit = state_volume.get("emptyDir", {}).get("sizeLimit")
        supervisor = config.get("supervisor", {})
        bound = (size(supervisor.get("incidents_max_size", "1GiB")) +
                 size(supervisor.get("events_max_size", "64MiB")) *
                 (int(supervisor.get("events_keep", 3)) + 1) + 64 * 2**20)
        if limit is not None and size(limit) < bound:
            problems.append(f"the state emptyDir's sizeLimit {limit} is below what memvisor may "
                            f"keep there, {bound / 2**20:.0f} MiB (incidents, events, checkpoint)")

    # The image runs the same thing.
    d = dockerfile
    if d.get("FROM") != ["debian:12-slim AS build", "debian:12-slim"]:
        problems.append(f"the Dockerfile's stages are not debian:12-slim build + runtime: {d.get('FROM')}")
    build_runs = " ".join(d.get("RUN@0", []))
    for needed in ("scripts/setup --deps-only", "cpack -G DEB"):
        if needed not in build_runs:
            problems.append(f"the build stage does not run {needed}")
    runtime_runs = " ".join(d.get("RUN@1", []))
    if not re.search(r"apt-get install .*/tmp/memvisor_\*_amd64\.deb", runtime_runs):
        problems.append("the runtime stage does not apt-get install the package")
    if d.get("ENTRYPOINT") != [json.dumps(args[:1])]:
        problems.append(f"ENTRYPOINT {d.get('ENTRYPOINT')} is not the container's command {args[:1]}")
    if d.get("CMD") != [json.dumps(args[1:])]:
        problems.append(f"CMD {d.get('CMD')} is not the container's args {args[1:]}")
    if d.get("STOPSIGNAL") != ["SIGTERM"]:
        problems.append(f"STOPSIGNAL {d.get('STOPSIGNAL')} is not SIGTERM")
    user = (d.get("USER") or ["root"])[-1]
    if user.split(":")[0] != str(security.get("runAsUser")) or user.split(":")[0] in ("0", "root"):
        problems.append(f"USER {user} is not the pod's non-root runAsUser {security.get('runAsUser')}")
    exposed = {int(p.split("/")[0]) for line in d.get("EXPOSE", []) for p in line.split()}
    if not set(ports.values()) <= exposed:
        problems.append(f"EXPOSE {sorted(exposed)} lacks a container port of {ports}")
    if f"MEMVISOR_STATE_DIR={env.get('MEMVISOR_STATE_DIR')}" not in d.get("ENV", []):
        problems.append("the image's MEMVISOR_STATE_DIR is not the pod's")
    if not any(line.endswith(" " + config_path) for line in d.get("COPY", [])):
        problems.append(f"the image has no default config at {config_path}")
    return problems


def parse_dockerfile(path):
    """Instructions by name (RUN split by stage as RUN@0, RUN@1), continuation lines joined."""
    text = re.sub(r"\\\n", " ", open(path).read())
    out, stage = {}, -1
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "FROM":
            stage += 1
        key = f"RUN@{stage}" if word == "RUN" else word
        out.setdefault(key, []).append(" ".join(rest.split()))
    return out


def mutated(objects, change):
    objects = copy.deepcopy(objects)
    change(by_kind(objects))
    return objects


def set_toml(kinds, old, new):
    cm = kinds["ConfigMap"]["data"]
    assert old in cm["memvisor.toml"], old
    cm["memvisor.toml"] = cm["memvisor.toml"].replace(old, new)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_like_the_container(memvisor, toml_text, grace, pre_stop):
    """The ConfigMap's config as the pod runs it: PID 1 in a PID namespace of its own, uid 10001,
    HTTP and the listen socket on 0.0.0.0; the example's path mapped to the source tree."""
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("setpriv"):
        print("note  the container-like run needs root, unshare and setpriv: not run")
        return
    http_port, web_port = free_port(), free_port()
    text = toml_text.replace("/usr/share/doc/memvisor/examples", os.path.join(SRC, "examples"))
    text = text.replace('"0.0.0.0:9464"', f'"0.0.0.0:{http_port}"')
    text = text.replace('"0.0.0.0:8000"', f'"0.0.0.0:{web_port}"')
    tmp = tempfile.mkdtemp(prefix="memvisor-k8s-")
    try:
        os.chmod(tmp, 0o755)
        config = os.path.join(tmp, "memvisor.toml")
        with open(config, "w") as f:
            f.write(text)
        state = os.path.join(tmp, "state")
        os.mkdir(state)
        os.chown(state, 10001, 10001)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "MEMVISOR_STATE_DIR": state}
        log = open(os.path.join(tmp, "log"), "w")
        proc = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "setpriv",
             "--reuid", "10001", "--regid", "10001", "--clear-groups", memvisor, "run", config],
            env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
        health = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and health != 200:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/health", timeout=2) as r:
                    health = r.status
            except OSError:
                time.sleep(0.2)
        check(health == 200, "the ConfigMap's config, run as the container runs it: /health 200")
        lock = open(os.path.join(state, "memvisor.lock")).read().strip() \
            if os.path.exists(os.path.join(state, "memvisor.lock")) else ""
        check(lock == "1", f"memvisor is PID 1 of its namespace (memvisor.lock: {lock!r})")
        children = run(["ps", "-o", "pid=,uid=", "--ppid", str(proc.pid)]).stdout.split()
        check(len(children) == 2 and children[1] == "10001", f"and runs as uid 10001: {children}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/", timeout=5) as r:
                check(r.status == 200, "the worker serves on memvisor's 0.0.0.0 socket")
        except OSError as e:
            check(False, f"the worker serves on memvisor's 0.0.0.0 socket: {e}")
        # The kubelet's SIGTERM, after preStop: everything must stop before the grace period ends.
        started = time.monotonic()
        os.kill(int(children[0]), signal.SIGTERM)
        try:
            code = proc.wait(timeout=grace - pre_stop)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = None
        check(code == 0, f"SIGTERM stops it, exit 0, within the grace period less preStop "
                         f"({time.monotonic() - started:.1f}s of {grace - pre_stop:.0f}s)")
        log.close()
        if failures:
            print(open(os.path.join(tmp, "log")).read()[-3000:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    global SRC, TOOLS
    parser = argparse.ArgumentParser()
    parser.add_argument("--memvisor", required=True)
    parser.add_argument("--source-dir", required=True)
    args = parser.parse_args()
    SRC = os.path.abspath(args.source_dir)
    TOOLS = os.path.join(SRC, "deploy/tools")
    base = os.path.join(SRC, "deploy/kubernetes")
    if not check(os.path.isdir(os.path.join(TOOLS, "node_modules/kubernetes-models")),
                 "deploy/tools is installed (scripts/setup runs npm ci there)"):
        sys.exit(1)

    # 1. kustomize builds the base; its files and its output pass the strict schema check.
    kubectl = shutil.which("kubectl")
    if not check(kubectl is not None, "kubectl is installed (scripts/setup)"):
        sys.exit(1)
    print("note  " + run([kubectl, "version", "--client"]).stdout.splitlines()[0])
    built = run([kubectl, "kustomize", base])
    check(built.returncode == 0, f"kubectl kustomize deploy/kubernetes builds {built.stderr.strip()}")
    code, objects, messages = validate(built.stdout)
    check(code == 0, "every object kustomize builds is valid\n" + messages)
    resources = yaml_to_json(os.path.join(base, "kustomization.yaml"))["resources"]
    files = sorted(f for f in os.listdir(base) if f.endswith(".yaml") and f != "kustomization.yaml")
    check(sorted(resources) == files, f"kustomization.yaml lists every manifest: {resources}")
    code, _, messages = validate(files=[os.path.join(base, f) for f in files])
    check(code == 0, "every manifest file is valid on its own")
    check(sorted(o["kind"] for o in objects) ==
          ["ConfigMap", "Deployment", "PodDisruptionBudget", "PodMonitor", "Service"],
          f"the base has its five objects: {sorted(o['kind'] for o in objects)}")

    # 2. Negative controls: broken copies of the real files are refused, each for its reason.
    broken = [
        ("deployment.yaml", "imagePullPolicy:", "imagePullPolicyy:",
         "unknown field /spec/template/spec/containers/0/imagePullPolicyy"),
        ("deployment.yaml", "replicas: 2", 'replicas: "2"', "/spec/replicas must be integer"),
        ("deployment.yaml", "containerPort: 9464", "containerPort: [9464]",
         "containerPort must be integer"),
        ("podmonitor.yaml", "podMetricsEndpoints:", "podMetricEndpoints:",
         "unknown field /spec/podMetricEndpoints"),
        ("service.yaml", "  type: ClusterIP\n", "  type: ClusterIP\n  type: NodePort\n",
         "Map keys must be unique"),
        ("poddisruptionbudget.yaml", "kind: PodDisruptionBudget", "kind: PodDisruptionBuget",
         "unknown kind PodDisruptionBuget"),
    ]
    for name, old, new, expected in broken:
        text = open(os.path.join(base, name)).read()
        assert old in text, f"{name} no longer has {old!r}: update this negative control"
        code, _, messages = validate(text.replace(old, new, 1))
        check(code == 1 and expected in messages,
              f"{name} with {new.strip()!r} is refused: {expected}" +
              ("" if expected in messages else "\n" + messages))
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(base, os.path.join(tmp, "k"))
        with open(os.path.join(tmp, "k/kustomization.yaml"), "a") as f:
            f.write("  - missing.yaml\n")
        check(run([kubectl, "kustomize", os.path.join(tmp, "k")]).returncode != 0,
              "kubectl kustomize refuses a base that names a missing file")

    # 3. The config: memvisor check, the image's copy, and what it must agree with.
    toml_text = by_kind(objects)["ConfigMap"]["data"]["memvisor.toml"]
    with tempfile.NamedTemporaryFile("w", suffix=".toml") as f:
        f.write(toml_text)
        f.flush()
        r = run([args.memvisor, "check", f.name])
        check(r.returncode == 0, f"memvisor check passes the ConfigMap's memvisor.toml: "
                                 f"{(r.stdout + r.stderr).strip()}")
    with open(os.path.join(SRC, "deploy/docker/memvisor.toml")) as f:
        check(f.read() == toml_text, "deploy/docker/memvisor.toml is the ConfigMap's memvisor.toml")
    dockerfile = parse_dockerfile(os.path.join(SRC, "deploy/docker/Dockerfile"))
    problems = cross_check(objects, dockerfile)
    check(not problems, "the manifests, the config and the Dockerfile agree" +
          "".join(f"\n  {p}" for p in problems))
    for source in [line.split()[0] for line in dockerfile.get("COPY", []) if "--from" not in line]:
        check(os.path.exists(os.path.join(SRC, source)), f"the Dockerfile's COPY {source} exists")

    # Each cross-check fails on a copy that breaks it.
    def probe_path(k):
        k["Deployment"]["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"][
            "path"] = "/metrics"

    def short_grace(k):
        k["Deployment"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 10

    def small_limit(k):
        k["Deployment"]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"][
            "memory"] = "768Mi"

    controls = [
        ("http on loopback", lambda k: set_toml(k, '"0.0.0.0:9464"', '"127.0.0.1:9464"'),
         "bind 0.0.0.0"),
        ("a probe elsewhere", probe_path, "livenessProbe is not GET /health"),
        ("a grace period shorter than the stop", short_grace, "terminationGracePeriodSeconds 10"),
        ("a container limit below the rule of thumb", small_limit, "over the container's memory limit"),
        ("a critical above what the limit allows", lambda k: set_toml(k, 'critical = "256MiB"',
                                                                      'critical = "384MiB"'),
         "over the container's memory limit"),
    ]
    for what, change, expected in controls:
        found = cross_check(mutated(objects, change), dockerfile)
        check(any(expected in p for p in found), f"{what} is caught: {found}")
    root_user = dict(dockerfile, USER=["root"])
    check(any("USER root" in p for p in cross_check(objects, root_user)),
          "a Dockerfile running as root is caught")

    # 4. The config runs as the container runs it.
    container = by_kind(objects)["Deployment"]["spec"]["template"]["spec"]
    pre = container["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
    run_like_the_container(os.path.abspath(args.memvisor), toml_text,
                           container["terminationGracePeriodSeconds"], float(pre[-1]))

    if failures:
        print(f"kubernetes_test: {len(failures)} check(s) failed: " + "; ".join(failures))
        sys.exit(1)
    print("kubernetes_test: every check passed")


if __name__ == "__main__":
    main()
