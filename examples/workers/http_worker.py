#!/usr/bin/env python3
"""A small HTTP worker for memvisor: serves on port 8000 + MEMVISOR_INSTANCE, tells memvisor it
is ready through systemd's notify protocol, and counts its requests over the worker protocol
(MEMVISOR_SOCKET, JSON lines, docs/worker-protocol.md) so `requests = { max, jitter }` can recycle
it. Plain sockets, no library needed.

    memvisor run --instances 2 --ready notify --max-requests 1000 -- python3 examples/workers/http_worker.py
    curl localhost:8001/   # web.1
    curl localhost:8002/   # web.2
"""
import ctypes
import http.server
import json
import os
import random
import socket
import threading
import time


def notify(message: str) -> None:
    """Sends one datagram to NOTIFY_SOCKET, as sd_notify(3) does; a no-op outside memvisor."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(message.encode(), path)


def keep_watchdog_fed() -> None:
    usec = int(os.environ.get("WATCHDOG_USEC", "0"))
    if usec <= 0:
        return
    interval = usec / 1e6 / 3

    def ping() -> None:
        notify("WATCHDOG=1")
        threading.Timer(interval, ping).start()

    ping()


def malloc_info() -> str:
    """glibc's malloc_info(3) XML through ctypes: the interpreter's heap is glibc's."""
    libc = ctypes.CDLL(None)
    libc.open_memstream.restype = ctypes.c_void_p
    libc.open_memstream.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_size_t)]
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    libc.free.argtypes = [ctypes.c_void_p]
    buffer, size = ctypes.c_void_p(), ctypes.c_size_t()
    stream = libc.open_memstream(ctypes.byref(buffer), ctypes.byref(size))
    if not stream:
        return ""
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    xml = ctypes.string_at(buffer.value, size.value).decode() if buffer.value else ""
    libc.free(buffer)
    return xml


class MemvisorLink:
    """The worker protocol by hand: a thread that connects to MEMVISOR_SOCKET, says hello and ready,
    and sends the running request total at most every FLUSH seconds, so counting a request is only
    an increment. It reconnects with a jittered backoff when memvisor's supervisor restarts."""

    FLUSH = 0.1

    def __init__(self) -> None:
        self.path = os.environ.get("MEMVISOR_SOCKET")
        self.lock = threading.Lock()
        self.requests = 0
        self.ready = False
        if self.path:
            threading.Thread(target=self._run, daemon=True).start()

    def request_done(self) -> None:
        with self.lock:
            self.requests += 1

    def set_ready(self) -> None:
        self.ready = True

    def _run(self) -> None:
        backoff = 0.05
        while True:
            try:
                if self._serve_connection():
                    backoff = 0.05  # we were welcomed: the next loss starts over
            except OSError:
                pass  # the supervisor is gone or restarting
            time.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, 1.0)

    def _serve_connection(self) -> bool:
        welcomed = False
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(self.path)
            sock.settimeout(self.FLUSH)  # the batching period: one total per wake-up at most
            send = lambda message: sock.sendall((json.dumps(message) + "\n").encode())
            send({"type": "hello", "version": 1, "pid": os.getpid(), "library": "python"})
            sent_ready, sent_total, buffer = False, -1, b""
            while True:
                if self.ready and not sent_ready:
                    send({"type": "ready"})
                    sent_ready = True
                total = self.requests
                if total != sent_total:
                    send({"type": "requests", "total": total})
                    sent_total = total
                try:
                    data = sock.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    return welcomed
                buffer += data
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    message = json.loads(line or b"{}")
                    if message.get("type") == "welcome":
                        welcomed = True
                    elif message.get("type") == "request" and message.get("cmd") == "memory_info":
                        send({"type": "reply", "id": message.get("id"), "ok": True,
                              "memory_info": {"malloc_info": malloc_info()}})
                    elif message.get("type") == "request":
                        send({"type": "reply", "id": message.get("id"), "ok": False,
                              "error": f"{message.get('cmd')} is not supported by this worker"})


LINK = MemvisorLink()


class Handler(http.server.BaseHTTPRequestHandler):
    served = 0

    def do_GET(self) -> None:
        Handler.served += 1
        body = f"hello from {os.environ.get('MEMVISOR_SERVICE', '?')}.{os.environ.get('MEMVISOR_INSTANCE', '?')} (pid {os.getpid()})\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        notify(f"STATUS=served {Handler.served} requests")
        LINK.request_done()


class Server(http.server.ThreadingHTTPServer):
    def server_bind(self) -> None:
        # During a surge recycle the replacement listens on this same port while the old process
        # still serves; the kernel spreads new connections over both until the old one stops.
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


def main() -> None:
    port = int(os.environ.get("PORT_BASE", "8000")) + int(os.environ.get("MEMVISOR_INSTANCE", "0"))
    server = Server(("127.0.0.1", port), Handler)
    print(f"listening on 127.0.0.1:{port}", flush=True)
    notify(f"READY=1\nSTATUS=listening on port {port}")
    LINK.set_ready()
    keep_watchdog_fed()
    try:
        server.serve_forever()
    except KeyboardInterrupt:  # memvisor's default stop signal is SIGINT
        print("stopping", flush=True)
    finally:
        os._exit(0)  # the watchdog timer thread would otherwise keep the process alive


if __name__ == "__main__":
    main()
