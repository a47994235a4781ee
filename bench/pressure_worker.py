#!/usr/bin/env python3
"""A worker for bench/pressure_compare.py: serves memvisor's socket (fd 3, LISTEN_FDS), each
request reading a random 256 KiB chunk of DATA (a file whose page cache is the pool's working
set), says READY=1, and stops on SIGTERM. The instance named by RUNAWAY_INSTANCE also grows by
RUNAWAY_MIB_S MiB of touched memory per second from RUNAWAY_AFTER_S seconds on: a slow runaway.
"""
import http.server
import os
import random
import signal
import socket
import sys
import threading
import time

DATA = os.environ["DATA"]
CHUNK = 256 << 10


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):  # noqa: N802
        fd = os.open(DATA, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            chunk = os.pread(fd, CHUNK, random.randrange(0, max(1, size - CHUNK)))
        finally:
            os.close(fd)
        body = b"%d\n" % len(chunk)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def runaway(rate_mib_s, after_s):
    time.sleep(after_s)
    hog = []
    while True:
        block = bytearray(max(1, int(rate_mib_s * (1 << 20) / 4)))
        for i in range(0, len(block), 4096):
            block[i] = 1
        hog.append(block)
        time.sleep(0.25)


def main():
    sock = socket.socket(fileno=3)
    server = http.server.ThreadingHTTPServer(sock.getsockname(), Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    server.daemon_threads = True
    if os.environ.get("MEMVISOR_INSTANCE") == os.environ.get("RUNAWAY_INSTANCE"):
        rate = float(os.environ.get("RUNAWAY_MIB_S", "4"))
        after = float(os.environ.get("RUNAWAY_AFTER_S", "0"))
        threading.Thread(target=runaway, args=(rate, after), daemon=True).start()

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    notify = os.environ.get("NOTIFY_SOCKET")
    if notify:
        address = "\0" + notify[1:] if notify.startswith("@") else notify
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.sendto(b"READY=1", address)
    server.serve_forever(poll_interval=0.2)
    sys.exit(0)


if __name__ == "__main__":
    main()
