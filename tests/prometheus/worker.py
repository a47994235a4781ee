#!/usr/bin/env python3
"""A worker for the Prometheus tests: `leak MIB_PER_S` grows its heap steadily, `steady` holds a
fixed amount. Both stay alive until memvisor stops them (SIGINT, its default stop signal)."""
import signal
import sys
import time

signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

mode = sys.argv[1] if len(sys.argv) > 1 else "steady"
held = [bytearray(8 << 20)]  # touched pages count in RSS and PSS; bytearray zero-fills them
if mode == "leak":
    per_tick = int(float(sys.argv[2]) * (1 << 20) / 10)
    while True:
        held.append(bytearray(b"x" * per_tick))  # b"x"*n: the pages are written, not just mapped
        time.sleep(0.1)
while True:
    time.sleep(1)
