#!/usr/bin/env python3
"""A small HTTP worker for memvisor: serves on port 8000 + MEMVISOR_INSTANCE and tells memvisor it
is ready through systemd's notify protocol (plain sockets, no library needed).

    memvisor run --instances 2 --ready notify -- python3 examples/workers/http_worker.py
    curl localhost:8001/   # web.1
    curl localhost:8002/   # web.2
"""
import http.server
import os
import socket
import threading


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


def main() -> None:
    port = int(os.environ.get("PORT_BASE", "8000")) + int(os.environ.get("MEMVISOR_INSTANCE", "0"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"listening on 127.0.0.1:{port}", flush=True)
    notify(f"READY=1\nSTATUS=listening on port {port}")
    keep_watchdog_fed()
    try:
        server.serve_forever()
    except KeyboardInterrupt:  # memvisor's default stop signal is SIGINT
        print("stopping", flush=True)
    finally:
        os._exit(0)  # the watchdog timer thread would otherwise keep the process alive


if __name__ == "__main__":
    main()
