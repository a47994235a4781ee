"""A tiny WSGI app for memvisor's pre-fork example (examples/gunicorn-prefork.toml).

GET /        answers with the worker's pid
GET /leak    keeps 50 MiB (or ?mib=N) in this worker for good: a leak memvisor's rules will see
"""
import os

_kept = []


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/leak":
        query = dict(p.split("=", 1) for p in environ.get("QUERY_STRING", "").split("&") if "=" in p)
        mib = int(query.get("mib", "50"))
        _kept.append(b"\x01" * (mib << 20))  # written, so resident
        body = f"worker {os.getpid()} now keeps {sum(len(k) for k in _kept) >> 20} MiB\n"
    else:
        body = f"worker {os.getpid()}\n"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
