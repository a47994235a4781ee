#!/usr/bin/env python3
"""A small HTTP worker for memvisor (stdlib only): keep-alive HTTP/1.1, readiness through systemd's
notify protocol, its requests counted over the worker protocol (examples/lib/memvisor_worker.py)
so `requests = { max, jitter }` can recycle it, and a graceful stop.

Its listening sockets, two ways:
- inherited (the right way): with `listen = ["127.0.0.1:8000"]` memvisor binds each socket once
  and every instance and replacement inherits them from fd 3 up (LISTEN_FDS=N, LISTEN_PID=its
  pid, as systemd does). A connection waiting in the kernel's queue waits for whichever process
  accepts next, so a process that stops loses none.
- its own (the wrong way, kept for comparison): without LISTEN_FDS it binds 127.0.0.1 on PORT, or
  PORT_BASE (8000) + MEMVISOR_INSTANCE, with SO_REUSEPORT so that a replacement can bind beside
  the old process. The kernel then queues each new connection on one of the two sockets; those
  queued on the old one when it exits are reset (bench/zero_drop.py counts them).

    memvisor run examples/web.toml
    memvisor run --instances 2 --ready notify --max-requests 1000 -- python3 examples/workers/http_worker.py

Stop (SIGINT, memvisor's default stop_signal, or SIGTERM): stop accepting; finish the requests in
flight; answer the next request of each keep-alive connection with `Connection: close` (a client
such as wrk counts a server closing an idle keep-alive connection as an error: its next request
may already be on the way); close connections still idle after DRAIN_GRACE seconds (default 2);
exit 0. A second signal (memvisor's SIGTERM after stop_timeout) exits at once.

Environment: WORK_MS (a pause per request, default 0), LEAK_BYTES_PER_REQUEST (default 0).
"""
import http.server
import os
import select
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import memvisor_worker  # noqa: E402

WORK = float(os.environ.get("WORK_MS", "0")) / 1000
GRACE = float(os.environ.get("DRAIN_GRACE", "2"))


class Drain:
    """The stop, as every connection thread sees it: a pipe readable once it began (so that idle
    connections wake up), its deadline for idle connections, and the count of open connections."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        self.deadline = None
        self.open = 0
        self.changed = threading.Condition()

    def begin(self) -> None:
        self.deadline = time.monotonic() + GRACE
        os.write(self.write_fd, b"x")

    def stopping(self) -> bool:
        return self.deadline is not None

    def grace_left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def count(self, delta: int) -> None:
        with self.changed:
            self.open += delta
            self.changed.notify_all()

    def wait_until_closed(self) -> None:
        with self.changed:
            self.changed.wait_for(lambda: self.open == 0)


DRAIN = Drain()


def readable(fds, timeout=None):
    """The fds of `fds` readable within `timeout` seconds (None: no limit). poll, not select:
    a busy server's descriptors pass 1024."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    return {fd for fd, _ in poller.poll(None if timeout is None else timeout * 1000)}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the stop must take care of idle connections
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall

    def setup(self) -> None:
        # TCP_NODELAY is TCP's: a Unix socket (listen = ["unix:/PATH"]) refuses it.
        self.disable_nagle_algorithm = self.request.family != socket.AF_UNIX
        super().setup()

    def handle_one_request(self) -> None:
        # Between two requests the connection is idle: wait for the next request or the stop.
        fd = self.connection.fileno()
        if fd not in readable([fd, DRAIN.read_fd]):
            # Stopping while idle. The client may be sending its next request right now: wait
            # for it a little (it is answered with Connection: close) rather than close under it.
            if fd not in readable([fd], DRAIN.grace_left()):
                self.close_connection = True
                return
        super().handle_one_request()

    def do_GET(self) -> None:
        if WORK:
            time.sleep(WORK)
        body = (f"hello from {os.environ.get('MEMVISOR_SERVICE', '?')}."
                f"{os.environ.get('MEMVISOR_INSTANCE', '?')} (pid {os.getpid()})\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        if DRAIN.stopping():
            self.send_header("Connection", "close")  # and close_connection: this is the last
        self.end_headers()
        self.wfile.write(body)
        memvisor_worker.leak()
        memvisor_worker.request_done()

    def log_message(self, format, *args) -> None:
        pass  # one line per request would drown memvisor's log


class Server(http.server.ThreadingHTTPServer):
    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock.getsockname(), Handler, bind_and_activate=False)
        self.socket.close()
        # Already bound and listening, and maybe shared: every instance on a socket memvisor holds
        # is woken for each connection and only one gets it. A loser blocked in accept() would hold
        # shutdown() until the next connection, so accept must not block (socketserver takes the
        # EAGAIN as no request); connections themselves are served blocking.
        sock.setblocking(False)
        self.socket = sock

    def get_request(self):
        connection, address = self.socket.accept()
        connection.setblocking(True)
        return connection, address

    def process_request(self, request, client_address) -> None:
        # Counted here, in the accepting thread, so that shutdown() returns only once every
        # connection accepted so far is counted.
        DRAIN.count(+1)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:  # the connection's thread is done with it
        try:
            super().shutdown_request(request)
        finally:
            DRAIN.count(-1)


def inherited_sockets():
    """The sockets memvisor (or systemd) passed from fd 3 up; none unless LISTEN_PID is us."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        return []
    count = int(os.environ.get("LISTEN_FDS", "0"))
    return [socket.socket(fileno=fd) for fd in range(3, 3 + count)]  # family read from the fd


def own_socket() -> socket.socket:
    port = int(os.environ.get("PORT") or
               int(os.environ.get("PORT_BASE", "8000")) + int(os.environ.get("MEMVISOR_INSTANCE", "0")))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(socket.SOMAXCONN)
    return sock


def main() -> None:
    # The stop signals are taken by sigwait below: blocked here, before any thread starts, so
    # that every thread inherits the mask and none of them is interrupted by one.
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)

    sockets = inherited_sockets()
    where = f"{len(sockets)} inherited socket(s)"
    if not sockets:
        sockets = [own_socket()]
        where = f"its own port {sockets[0].getsockname()[1]} (SO_REUSEPORT)"
    servers = [Server(sock) for sock in sockets]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"serving on {where}", flush=True)
    memvisor_worker.ready(f"serving on {where}")
    memvisor_worker.keep_watchdog_fed()

    signal.sigwait(stop_signals)
    threading.Thread(target=lambda: (signal.sigwait(stop_signals), os._exit(1)), daemon=True).start()
    print("stopping: draining connections", flush=True)
    DRAIN.begin()  # first: a request from now on is answered with Connection: close
    for server in servers:
        server.shutdown()  # accepts no more; the listening socket itself closes at exit
    DRAIN.wait_until_closed()
    print("stopped", flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
