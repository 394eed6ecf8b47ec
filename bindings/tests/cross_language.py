#!/usr/bin/env python3
"""Cross-language test: Python produces, Go consumes, the C library counts.

1. Python sends N messages; the Go program shmq-consume acks them all; the
   queue's own totals (shmq_stats_get through the Python binding) show N acked
   and every slot free.
2. A Go consumer killed with SIGKILL while holding a lease: it read the
   headers Python sent; after recovery a Python consumer gets the same message
   with attempt 2 and the same headers.

Usage: cross_language.py [N]. Needs go on PATH with cgo able to link libshmq
(CGO_LDFLAGS, LD_LIBRARY_PATH) and SHMQ_PYTHON_CORE for Python; ctest sets them.
"""
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BINDINGS = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(BINDINGS, "python"))
base = os.environ.get("SHMQ_DIR") or None
if base:
    os.makedirs(base, exist_ok=True)
WORK = tempfile.mkdtemp(prefix="shmq-xlang-", dir=base)
os.environ["SHMQ_DIR"] = WORK

import shmq  # noqa: E402


def check(cond, what):
    if not cond:
        raise SystemExit(f"cross_language: FAILED: {what}")
    print(f"cross_language: ok: {what}")


def build_consumer():
    exe = os.path.join(WORK, "shmq-consume")
    subprocess.run(["go", "build", "-o", exe, "./cmd/shmq-consume"], check=True,
                   cwd=os.path.join(BINDINGS, "go"))
    return exe


def python_to_go(exe, n):
    name = "xlang.ack"
    with shmq.Queue.create(name, slot_count=max(64, n)) as q:
        check(q.send_many(b"order %d" % i for i in range(n)) == n, f"Python sent {n}")
        # One handler (-c 1): libshmq counts per handle with plain stores, exact
        # only while one thread at a time uses the handle.
        out = subprocess.run([exe, "-queue", name, "-n", str(n), "-c", "1"], check=True, timeout=120,
                             capture_output=True, text=True).stdout
        check(out.split() == ["acked", str(n)], f"Go consumer acked {n} (said {out.strip()!r})")
        s = q.stats()
        check(s.acked == n and s.enqueued == n, f"queue totals: enqueued {s.enqueued}, acked {s.acked}")
        check(s.free == s.slot_count, "every slot is free again")
    shmq.unlink(name)


def read_line(proc, timeout):
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        check(bool(sel.select(timeout)), "the Go holder printed its message id")
    return proc.stdout.readline().strip()


def go_killed_python_redelivers(exe):
    name = "xlang.kill"
    with shmq.Queue.create(name, slot_count=8, backoff_base=0) as q:
        headers = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "note": "caf\u00e9 \u20ac"}
        q.send(b"survives a Go consumer's kill -9", headers=headers)
        holder = subprocess.Popen([exe, "-queue", name, "-hold"], stdout=subprocess.PIPE, text=True)
        try:
            held = int(read_line(holder, 60))
            seen = json.loads(holder.stdout.readline() or "null")  # printed with the id (maybe buffered already)
        finally:
            holder.send_signal(signal.SIGKILL)
            holder.wait(30)
        check(holder.returncode == -signal.SIGKILL, "the Go holder died of SIGKILL")
        r = q.recover()
        check(r.dead_clients == 1 and r.leases_reclaimed == 1, f"recovery reclaimed its lease ({r})")
        msg = q.recv(timeout=30)
        check(seen == headers, f"the Go holder read the headers Python sent ({seen})")
        check(msg.id == held and msg.attempt == 2, f"Python got message {msg.id} with attempt {msg.attempt}")
        check(msg.headers == headers, f"and the same headers after the reclaim ({msg.headers})")
        msg.ack()
    shmq.unlink(name)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    try:
        exe = build_consumer()
        python_to_go(exe, n)
        go_killed_python_redelivers(exe)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    print("cross_language: 2 passed, 0 failed")


if __name__ == "__main__":
    main()
