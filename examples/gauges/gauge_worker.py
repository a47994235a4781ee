#!/usr/bin/env python3
"""A worker that reports gauges to memvisor by speaking the worker protocol directly (stdlib only;
docs/worker-protocol.md, "Gauges"): one JSON line per gauge on the Unix socket in MEMVISOR_SOCKET.

    [service.jobs]
    command = ["python3", "examples/gauges/gauge_worker.py"]
    limit = { size = 1000, for = 2, metric = "gauge:queue_depth" }

It reports `queue_depth` (a made-up backlog that follows QUEUE_DEPTH, default 10) and
`python_gc_objects` every 200 ms, and connects again when the supervisor restarts. Outside
memvisor (no MEMVISOR_SOCKET) it only prints them."""
import gc
import json
import os
import socket
import time


class Link:
    """The connection to memvisor's worker socket. The supervisor closes it when it restarts: a
    write then fails (EPIPE), and the link connects again a second later, as the C and C++
    libraries do. Without MEMVISOR_SOCKET (outside memvisor) the lines are printed."""

    def __init__(self):
        self.path = os.environ.get("MEMVISOR_SOCKET")
        self.sock = None
        self.retry_at = 0.0

    def send(self, line):
        if not self.path:
            print(line, end="")
            return
        if self.sock is None and time.monotonic() >= self.retry_at:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(self.path)
                self.sock.setblocking(False)  # its replies are read and dropped below
            except OSError:
                self.drop()
        if self.sock is None:
            return
        try:
            self.sock.sendall(line.encode())
            while True:  # {"type":"welcome",...} or {"type":"error","error":"..."}
                if not self.sock.recv(65536):
                    raise ConnectionResetError("memvisor closed the connection")
        except BlockingIOError:
            pass  # nothing more to read
        except OSError:
            self.drop()

    def drop(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.retry_at = time.monotonic() + 1.0


def gauge(link, name, value):
    """Names: [a-zA-Z_:][a-zA-Z0-9_:]*, base units, unit as suffix (_bytes, _seconds, _total)."""
    link.send(json.dumps({"type": "gauge", "name": name, "value": value}) + "\n")


def main():
    link = Link()
    depth = float(os.environ.get("QUEUE_DEPTH", "10"))
    while True:
        gauge(link, "queue_depth", depth)
        gauge(link, "python_gc_objects", len(gc.get_objects()))
        time.sleep(0.2)


if __name__ == "__main__":
    main()
