"""Prints to stdout and stderr, forks a child that prints, and exits with code 3: run with and
without memvisor's heap_sampler, its output and exit code must be the same."""
import os
import sys
import threading
import warnings

import sitecustomize  # the system's (Debian's) own, chained by memvisor's loader

warnings.simplefilter("default")  # any warning the agent caused would show
print("stdout line")
print("stderr line", file=sys.stderr)
print("sitecustomize:", getattr(sitecustomize, "__file__", None))
print("threads:", threading.active_count(), [t.name for t in threading.enumerate()])
sys.stdout.flush()
sys.stderr.flush()
pid = os.fork()
if pid == 0:
    print("child says hello")
    sys.stdout.flush()
    os._exit(7)
_, status = os.waitpid(pid, 0)
print("child exit:", os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status)
print("done")
sys.exit(3)
