"""The worker side of memvisor for Python servers, in one stdlib-only file: readiness through
systemd's notify protocol, request counting over the worker protocol (MEMVISOR_SOCKET, JSON lines,
docs/worker-protocol.md) for `requests = { max, jitter }`, and a leak on demand for trying the
memory rules. Every call is a cheap no-op outside memvisor.

    import memvisor_worker
    memvisor_worker.ready()          # READY=1 on NOTIFY_SOCKET, for ready = "notify"
    ...
    memvisor_worker.request_done()   # an increment; a thread sends the running total
    memvisor_worker.leak()           # keeps LEAK_BYTES_PER_REQUEST bytes (0 by default)

It is fork-safe: a pre-forking server (gunicorn) that imports it in the master gives each worker a
connection and a count of its own, started on the worker's first call.
"""
import ctypes
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
    """Pings WATCHDOG=1 three times per WATCHDOG_USEC from a daemon thread (watchdog = "10s")."""
    usec = int(os.environ.get("WATCHDOG_USEC", "0"))
    if usec <= 0:
        return

    def ping() -> None:
        while True:
            notify("WATCHDOG=1")
            time.sleep(usec / 1e6 / 3)

    threading.Thread(target=ping, daemon=True).start()


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


class Link:
    """The worker protocol by hand: a daemon thread connects to MEMVISOR_SOCKET, says hello (and
    ready), and sends the running request total at most every FLUSH seconds, so counting a request
    is only an increment. It reconnects with a jittered backoff when the supervisor restarts."""

    FLUSH = 0.1

    def __init__(self) -> None:
        self.path = os.environ.get("MEMVISOR_SOCKET")
        self.lock = threading.Lock()
        self.pid = 0  # the process whose thread runs; another pid means we were forked
        self.requests = 0
        self.is_ready = False

    def request_done(self) -> None:
        with self.lock:
            self._start_in_this_process()
            self.requests += 1

    def ready(self) -> None:
        with self.lock:
            self._start_in_this_process()
            self.is_ready = True

    def _start_in_this_process(self) -> None:
        if not self.path or self.pid == os.getpid():
            return
        self.pid = os.getpid()
        self.requests, self.is_ready = 0, False  # a forked child counts its own requests
        threading.Thread(target=self._run, daemon=True).start()

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
                if self.is_ready and not sent_ready:
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
                    welcomed |= self._answer(json.loads(line or b"{}"), send)

    @staticmethod
    def _answer(message: dict, send) -> bool:
        """Handles one line from the supervisor; True for the welcome."""
        if message.get("type") == "welcome":
            return True
        if message.get("type") == "request" and message.get("cmd") == "memory_info":
            send({"type": "reply", "id": message.get("id"), "ok": True,
                  "memory_info": {"malloc_info": malloc_info()}})
        elif message.get("type") == "request":
            send({"type": "reply", "id": message.get("id"), "ok": False,
                  "error": f"{message.get('cmd')} is not supported by this worker"})
        return False


_LINK = Link()
_LEAK_BYTES = int(os.environ.get("LEAK_BYTES_PER_REQUEST", "0"))
_leaked = []


def ready(status: str = "") -> None:
    """The worker serves: READY=1 (and STATUS=) on NOTIFY_SOCKET, and `ready` to the supervisor."""
    notify("READY=1" + (f"\nSTATUS={status}" if status else ""))
    _LINK.ready()


def request_done() -> None:
    """Counts one request (for the `requests` rule): an increment under a lock, nothing sent."""
    _LINK.request_done()


def leak() -> None:
    """Keeps LEAK_BYTES_PER_REQUEST bytes for good, written so that they are resident."""
    if _LEAK_BYTES > 0:
        _leaked.append(b"\x01" * _LEAK_BYTES)
