"""A worker for memvisor's Python heap sample tests: churn that allocates and frees much more than
it keeps, and a leak in a known function, remember_invoice (or, with `helper`, a leak that goes
through json.loads and copy.deepcopy: remember_order). `none` leaks nothing (the negative
control). `fork` forks a child that leaks from remember_child_invoice."""
import copy
import json
import os
import sys
import time

INVOICES = []
ORDERS = {}


def remember_invoice(number):
    INVOICES.append({"number": number, "memo": "invoice %d; " % number * 60})  # LEAK: invoice


def remember_order(number):
    text = json.dumps({"id": number, "items": ["item-%d" % i for i in range(16)]})
    ORDERS[number] = copy.deepcopy(json.loads(text))  # LEAK: order, behind json and copy


def remember_child_invoice(number):
    INVOICES.append(["child invoice %d" % number] * 4 + [bytearray(512)])  # LEAK: child


def churn(n):
    # Allocates and frees far more than the leak keeps.
    scratch = [bytearray(256) for _ in range(64)]
    words = ["word-%d-%d" % (n, i) for i in range(200)]
    return len(scratch) + len(" ".join(words))


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "invoice"
    leak = {"invoice": remember_invoice, "helper": remember_order, "none": None}.get(mode)
    if mode == "fork":
        pid = os.fork()
        if pid == 0:
            leak = remember_child_invoice
        else:
            print("child", pid, flush=True)
            leak = None
    print("ready", os.getpid(), flush=True)
    n = 0
    while True:
        n += 1
        churn(n)
        if leak is not None and n % 4 == 0:
            leak(n)
        if n % 50 == 0:
            time.sleep(0.005)


if __name__ == "__main__":
    main()
