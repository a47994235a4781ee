#!/usr/bin/env python3
"""A worker for the Prometheus tests: `leak MIB_PER_S [AFTER_S]` holds steady for AFTER_S seconds,
then grows its heap steadily; `steady` holds a fixed amount. Both stay alive until memvisor stops
them (SIGINT, its default stop signal). The steady start keeps the interpreter's own start (a
step from nothing to some MiB in the first second) out of the trend the leak rule fits."""
import signal
import sys
import time

signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

mode = sys.argv[1] if len(sys.argv) > 1 else "steady"
held = []
if mode == "leak":
    time.sleep(float(sys.argv[3]) if len(sys.argv) > 3 else 0)
    per_tick = int(float(sys.argv[2]) * (1 << 20) / 10)
    while True:
        chunk = bytearray(per_tick)
        chunk[::4096] = b"x" * len(chunk[::4096])  # touch every page: it counts in RSS and PSS
        held.append(chunk)
        time.sleep(0.1)
while True:
    time.sleep(1)
