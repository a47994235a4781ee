"""A WSGI app for the gunicorn test of memvisor's Python agent: each gunicorn worker (forked by the
master) leaks from remember_worker_invoice in a thread that gunicorn_conf.py starts after the
fork, among churn. The agent must listen in each worker on its own pid's socket."""
import time

INVOICES = []


def remember_worker_invoice(number):
    INVOICES.append("worker invoice %d; " % number * 50)  # LEAK: gunicorn


def background():
    n = 0
    while True:
        n += 1
        scratch = [bytearray(256) for _ in range(32)]
        del scratch
        if n % 2 == 0:
            remember_worker_invoice(n)
        time.sleep(0.001)


def app(environ, start_response):
    body = b"ok\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
