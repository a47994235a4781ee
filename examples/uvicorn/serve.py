#!/usr/bin/python3
"""Runs an ASGI app with uvicorn on the sockets memvisor passes (LISTEN_FDS, from fd 3 up), says
READY=1 once it accepts, and stops without closing a keep-alive connection under its client.

    python3 examples/uvicorn/serve.py app:app      # run from examples/uvicorn, or --app-dir DIR

Why not plain `python3 -m uvicorn --fd 3 app:app`? It serves the inherited socket well, but:
- it cannot say READY=1, so memvisor would count it ready before it accepts (ready = "immediate");
- on SIGINT or SIGTERM uvicorn (0.17, Debian 12's) closes every idle keep-alive connection at
  once, and busy ones after their response without sending `Connection: close`. A client whose
  next request is already on its way sees the connection closed under it: wrk counts read errors
  (BENCHMARKS.md, "Zero-drop recycling"). No uvicorn option changes that: --timeout-keep-alive
  only bounds idle time in normal service.

So this launcher keeps uvicorn and its signal handling and changes only the stop, through
uvicorn's Server API: once the stop signal arrives every response carries `Connection: close`
(the client reconnects, to another process), and idle connections get DRAIN_GRACE seconds
(default 2) to send their next request before uvicorn's own shutdown closes what is left.
"""
import argparse
import asyncio
import os
import socket
import sys
import time

import uvicorn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import memvisor_worker  # noqa: E402

GRACE = float(os.environ.get("DRAIN_GRACE", "2"))


class DrainingServer(uvicorn.Server):
    async def startup(self, sockets=None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            memvisor_worker.ready(f"uvicorn serving {len(sockets or [])} inherited socket(s)")

    async def shutdown(self, sockets=None) -> None:
        for server in self.servers:
            server.close()  # accept no more; queued connections go to the other processes
        deadline = time.monotonic() + GRACE
        while self.server_state.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # each closes after its next response (Connection: close)
        await super().shutdown(sockets=sockets)  # closes what is still idle, waits for the rest


def closing_while_stopping(app, server: uvicorn.Server):
    """The app, with `Connection: close` on every response once the server is stopping."""

    async def wrapped(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)

        async def send_closing(message):
            if message["type"] == "http.response.start" and server.should_exit:
                message = dict(message, headers=[*message.get("headers", []), (b"connection", b"close")])
            await send(message)

        await app(scope, receive, send_closing)

    return wrapped


def inherited_sockets():
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        sys.exit("serve.py: no inherited sockets (LISTEN_FDS): run it under memvisor with `listen`")
    count = int(os.environ.get("LISTEN_FDS", "0"))
    return [socket.socket(fileno=fd) for fd in range(3, 3 + count)]  # family read from the fd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("app", help="MODULE:ATTRIBUTE of the ASGI app")
    parser.add_argument("--app-dir", default=".", help="where MODULE is (default: .)")
    args = parser.parse_args()

    sys.path.insert(0, args.app_dir)
    config = uvicorn.Config(args.app, lifespan="off", access_log=False)
    config.load()
    server = DrainingServer(config)
    config.loaded_app = closing_while_stopping(config.loaded_app, server)
    server.run(sockets=inherited_sockets())


if __name__ == "__main__":
    main()
