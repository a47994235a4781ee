"""A tiny WSGI app for gunicorn under memvisor: answers every request, counts it for the
`requests` rule and, with LEAK_BYTES_PER_REQUEST set, keeps that many bytes per request (a leak on
demand, for the `limit` rule); GET /leak?mib=N makes the worker that serves it keep N MiB at once,
to watch a rule act by hand. gunicorn itself takes the sockets memvisor passes (LISTEN_FDS) and
sends READY=1; see gunicorn.toml and prefork.toml beside this file."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import memvisor_worker  # noqa: E402


_kept = []


def leak_now(environ) -> str:
    """GET /leak?mib=N: this worker keeps N MiB (default 50) for good, written so it is resident."""
    query = dict(p.split("=", 1) for p in environ.get("QUERY_STRING", "").split("&") if "=" in p)
    _kept.append(b"\x01" * (int(query.get("mib", "50")) << 20))
    return f"worker {os.getpid()} now keeps {sum(len(k) for k in _kept) >> 20} MiB\n"


def app(environ, start_response):
    if environ.get("PATH_INFO") == "/leak":
        body = leak_now(environ).encode()
    else:
        body = (f"hello from {os.environ.get('MEMVISOR_SERVICE', '?')}."
                f"{os.environ.get('MEMVISOR_INSTANCE', '?')} (pid {os.getpid()})\n").encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    memvisor_worker.leak()
    memvisor_worker.request_done()
    return [body]
