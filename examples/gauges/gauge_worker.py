#!/usr/bin/env python3
"""A worker that reports gauges to memvisor by speaking the worker protocol directly (stdlib only;
docs/worker-protocol.md, "Gauges"): one JSON line per gauge on the Unix socket in MEMVISOR_SOCKET.

    [service.jobs]
    command = ["python3", "examples/gauges/gauge_worker.py"]
    limit = { size = 1000, for = 2, metric = "gauge:queue_depth" }

It reports `queue_depth` (a made-up backlog that follows QUEUE_DEPTH, default 10) and
`python_gc_objects` every 200 ms. Outside memvisor (no MEMVISOR_SOCKET) it only prints them."""
import gc
import json
import os
import socket
import time


def connect():
    path = os.environ.get("MEMVISOR_SOCKET")
    if not path:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    sock.setblocking(False)  # its replies (welcome, errors) are read and dropped below
    return sock


def gauge(sock, name, value):
    """Names: [a-zA-Z_:][a-zA-Z0-9_:]*, base units, unit as suffix (_bytes, _seconds, _total)."""
    line = json.dumps({"type": "gauge", "name": name, "value": value}) + "\n"
    if sock is None:
        print(line, end="")
        return
    sock.sendall(line.encode())
    try:
        while sock.recv(65536):  # {"type":"welcome",...} or {"type":"error","error":"..."}
            pass
    except BlockingIOError:
        pass


def main():
    sock = connect()
    depth = float(os.environ.get("QUEUE_DEPTH", "10"))
    while True:
        gauge(sock, "queue_depth", depth)
        gauge(sock, "python_gc_objects", len(gc.get_objects()))
        time.sleep(0.2)


if __name__ == "__main__":
    main()
