"""A tiny ASGI app for uvicorn under memvisor: answers every request, counts it for the `requests`
rule and, with LEAK_BYTES_PER_REQUEST set, keeps that many bytes per request (a leak on demand,
for the `limit` rule). Run by serve.py beside it (see uvicorn.toml)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import memvisor_worker  # noqa: E402


async def app(scope, receive, send):
    if scope["type"] != "http":  # lifespan: nothing to set up
        return
    body = (f"hello from {os.environ.get('MEMVISOR_SERVICE', '?')}."
            f"{os.environ.get('MEMVISOR_INSTANCE', '?')} (pid {os.getpid()})\n").encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
    memvisor_worker.leak()
    memvisor_worker.request_done()
