#!/usr/bin/env python3
"""Test worker for gauges: speaks the worker protocol on MEMVISOR_SOCKET by hand (stdlib only).

GAUGE_MODE:
  report  every 100 ms sends each NAME=VALUE of GAUGES ("a=1,b=2"); with GAUGE_EXIT_AFTER=S the
          first generation exits after S seconds (later generations report nothing and sleep)
  flood   sends FLOOD_LINES lines of gauge `flood` (values 0..N-1) as fast as the socket takes
          them, then FLOOD_NAMES distinct names g0..gN-1, then reports `alive` every 100 ms
  bad     sends bad gauge lines (a name starting with a digit, one with a space, a value that is
          not finite, a string value, no value), then sleeps
  deaf    never reads; sends FLOOD_LINES lines that are not JSON (Python's NaN), then reports
          `alive` every 100 ms
Every line the supervisor sends is appended to $GAUGE_REPLIES (when set), so a test can read the
errors it got. Writes $GAUGE_DONE (when set) once everything was sent."""
import json
import os
import socket
import threading
import time

mode = os.environ.get("GAUGE_MODE", "report")
replies_path = os.environ.get("GAUGE_REPLIES")


def reader(sock):
    buffer = b""
    while True:
        data = sock.recv(65536)
        if not data:
            return
        buffer += data
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if replies_path:
                with open(replies_path, "ab") as out:
                    out.write(line + b"\n")


def done():
    path = os.environ.get("GAUGE_DONE")
    if path:
        with open(path + ".tmp", "w") as out:
            out.write("done\n")
        os.rename(path + ".tmp", path)


def gauge_line(name, value):
    return (json.dumps({"type": "gauge", "name": name, "value": value}) + "\n").encode()


sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(os.environ["MEMVISOR_SOCKET"])
if mode != "deaf":
    threading.Thread(target=reader, args=(sock,), daemon=True).start()
generation = int(os.environ.get("MEMVISOR_GENERATION", "1"))

if mode == "report":
    gauges = {}
    for part in os.environ.get("GAUGES", "").split(","):
        if part:
            name, value = part.split("=")
            gauges[name] = float(value)
    exit_after = float(os.environ.get("GAUGE_EXIT_AFTER", "0"))
    start = time.monotonic()
    while True:
        if generation == 1:
            for name, value in gauges.items():
                sock.sendall(gauge_line(name, value))
            if exit_after and time.monotonic() - start > exit_after:
                os._exit(0)
        time.sleep(0.1)
elif mode == "flood":
    lines = int(os.environ.get("FLOOD_LINES", "100000"))
    names = int(os.environ.get("FLOOD_NAMES", "1000"))
    batch = []
    for i in range(lines):
        batch.append(gauge_line("flood", i))
        if len(batch) == 1000:
            sock.sendall(b"".join(batch))
            batch = []
    for i in range(names):
        batch.append(gauge_line("g%d" % i, i))
    sock.sendall(b"".join(batch))
    done()
    while True:
        sock.sendall(gauge_line("flood", lines - 1))
        time.sleep(0.1)
elif mode == "deaf":
    lines = int(os.environ.get("FLOOD_LINES", "100000"))
    nan = gauge_line("nan", float("nan"))  # json.dumps writes NaN, which JSON is not
    for _ in range(lines // 1000):
        sock.sendall(nan * 1000)
    done()
    while True:
        sock.sendall(gauge_line("alive", 1))
        time.sleep(0.1)
elif mode == "bad":
    time.sleep(0.5)  # attributed by then: the errors name the instance
    for line in [
        b'{"type":"gauge","name":"9lives","value":1}\n',
        b'{"type":"gauge","name":"has space","value":1}\n',
        b'{"type":"gauge","name":"too_big","value":1e400}\n',
        b'{"type":"gauge","name":"text","value":"12"}\n',
        b'{"type":"gauge","name":"missing"}\n',
    ]:
        sock.sendall(line)
    sock.sendall(gauge_line("fine_total", 7))  # a good one still counts
    done()
    while True:
        time.sleep(1)
