"""What the Prometheus tests share: their command line, a free loopback port, and stopping a
process they started (SIGTERM, then SIGKILL after 15 s)."""
import argparse
import os
import signal
import socket
import subprocess


def parse_args():
    """--memvisor BINARY [--source CHECKOUT], both made absolute."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--memvisor", required=True)
    parser.add_argument("--source", default=os.path.join(os.path.dirname(__file__), "..", ".."))
    args = parser.parse_args()
    args.source = os.path.abspath(args.source)
    args.memvisor = os.path.abspath(args.memvisor)
    return args


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
