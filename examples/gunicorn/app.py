"""A tiny WSGI app for gunicorn under memvisor: answers every request, counts it for the
`requests` rule and, with LEAK_BYTES_PER_REQUEST set, keeps that many bytes per request (a leak on
demand, for the `limit` rule). gunicorn itself takes the sockets memvisor passes (LISTEN_FDS) and
sends READY=1; see gunicorn.toml and prefork.toml beside this file."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import memvisor_worker  # noqa: E402


def app(environ, start_response):
    body = (f"hello from {os.environ.get('MEMVISOR_SERVICE', '?')}."
            f"{os.environ.get('MEMVISOR_INSTANCE', '?')} (pid {os.getpid()})\n").encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    memvisor_worker.leak()
    memvisor_worker.request_done()
    return [body]
