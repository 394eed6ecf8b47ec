#!/usr/bin/env python3
"""Per-message overhead of the bindings against the C API, in one run.

Each measures the same loop in one process: send + recv + ack of a 16-byte
message. C: c_loop (c_loop.c); Python: the shmq package; Go: the testing.B
benchmark BenchmarkSendRecvAck. Prints msg/s, ns/msg and the ratio to C.

Usage: bench.py --c-loop PATH [--messages N] [--short]
--short runs a few thousand messages only: for ctest, it checks that every
benchmark runs and says nothing about speed.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

BINDINGS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(BINDINGS, "python"))


def c_api(exe, n):
    out = subprocess.run([exe, str(n), "16"], check=True, capture_output=True, text=True).stdout
    _, msgs, seconds, _ = out.split()
    return int(msgs) / float(seconds)


def python(n):
    import shmq
    name = f"bench.py.{os.getpid()}"
    with shmq.Queue.create(name) as q:
        payload = b"x" * 16
        send, recv = q.send, q.recv
        for _ in range(min(n, 10000)):  # warm up
            send(payload)
            recv().ack()
        start = time.perf_counter()
        for _ in range(n):
            send(payload)
            recv().ack()
        elapsed = time.perf_counter() - start
    shmq.unlink(name)
    return n / elapsed


def go(n):
    out = subprocess.run(["go", "test", "-run", "^$", "-bench", "^BenchmarkSendRecvAck$",
                          "-benchtime", f"{n}x", "-count", "1", "."], check=True,
                         capture_output=True, text=True, cwd=os.path.join(BINDINGS, "go")).stdout
    m = re.search(r"BenchmarkSendRecvAck\S*\s+\d+\s+([\d.]+) ns/op", out)
    if not m:
        raise SystemExit("bench: no result from go test:\n" + out)
    return 1e9 / float(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--c-loop", required=True, help="path to the built c_loop")
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--short", action="store_true", help="a quick run that checks nothing")
    args = ap.parse_args()
    n = 5000 if args.short else args.messages
    base = os.environ.get("SHMQ_DIR") or None
    if base:
        os.makedirs(base, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="shmq-bench-", dir=base) as d:
        os.environ["SHMQ_DIR"] = d
        rates = {"C API": c_api(args.c_loop, n), "Python": python(max(n // 5, 1000)), "Go": go(n)}
    print(f"send+recv+ack of 16 B, one process{' (short run: numbers mean nothing)' if args.short else ''}")
    print(f"{'':8} {'msg/s':>12} {'ns/msg':>10} {'x C':>6}")
    for what, rate in rates.items():
        print(f"{what:8} {rate:12.0f} {1e9 / rate:10.0f} {rates['C API'] / rate:6.1f}")


if __name__ == "__main__":
    main()
