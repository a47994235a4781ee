#!/usr/bin/env python3
"""A small pre-fork server for memvisor's tests: a master that forks PREFORK_WORKERS children
and forks a new one whenever one exits, as gunicorn, puma and php-fpm do.

Environment:
  PREFORK_WORKERS      children to keep (default 3)
  PREFORK_LEAKERS      how many of the first children leak (default 0); their replacements do not
  PREFORK_LEAK_MIB     MiB a leaking child adds every 100 ms (default 8), up to PREFORK_LEAK_CAP_MIB
  PREFORK_LEAK_CAP_MIB where a leaking child stops growing (default 160)
  PREFORK_IGNORE_TERM  "1": children ignore SIGTERM (only SIGKILL ends them)
  PREFORK_LOG          a file where the master appends "forked PID" and "reaped PID" lines
"""
import os
import signal
import sys
import time

WORKERS = int(os.environ.get("PREFORK_WORKERS", "3"))
LEAKERS = int(os.environ.get("PREFORK_LEAKERS", "0"))
LEAK_MIB = int(os.environ.get("PREFORK_LEAK_MIB", "8"))
LEAK_CAP_MIB = int(os.environ.get("PREFORK_LEAK_CAP_MIB", "160"))
IGNORE_TERM = os.environ.get("PREFORK_IGNORE_TERM") == "1"
LOG = os.environ.get("PREFORK_LOG")


def log(line):
    if LOG:
        with open(LOG, "a") as f:
            f.write(line + "\n")


def child(leaks):
    signal.signal(signal.SIGTERM, signal.SIG_IGN if IGNORE_TERM else signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    kept = []
    while True:
        if leaks and len(kept) < LEAK_CAP_MIB // max(1, LEAK_MIB):
            kept.append(b"\x01" * (LEAK_MIB << 20))  # written, so resident
        time.sleep(0.1)


def spawn(children, leaks):
    # A stop signal must not reach a new child while it still has the master's handler (it would
    # signal its siblings as the master): blocked across fork until child() has set its own.
    stops = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    pid = os.fork()
    if pid == 0:
        try:
            child(leaks)
        finally:
            os._exit(0)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
    children.add(pid)
    log(f"forked {pid}")


def main():
    children = set()

    def stop(signo, _frame):
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM if not IGNORE_TERM else signal.SIGKILL)
            except ProcessLookupError:
                pass
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for n in range(WORKERS):
        spawn(children, n < LEAKERS)
    print(f"master {os.getpid()} with {WORKERS} children", flush=True)
    while True:
        pid, _status = os.wait()
        children.discard(pid)
        log(f"reaped {pid}")
        spawn(children, False)


if __name__ == "__main__":
    sys.exit(main())
