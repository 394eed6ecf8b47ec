#!/usr/bin/env python3
"""The bindings' benchmarks, side by side in one run.

1. Overhead in one process: send + recv + ack of a 16-byte message, C API
   (c_loop), Python, Go (BenchmarkSendRecvAck).
2. Python 1 producer process -> 1 consumer process, 64 B: shmq (one by one,
   and send_many / recv_many + ack_many) against os.pipe, a SEQPACKET
   socketpair and multiprocessing.Queue (py_transports.py).
3. Go 1 -> 1, 64 B: Recv + Ack, Consume (concurrency 1 and 4), SendBatch /
   RecvBatch + AckBatch, a Unix socket, a Go channel (cmd/shmq-bench), and
   the C library's own 1 -> 1 (c_loop pair).
Prints the tables and the issue's goals (met / not met); with --out, also
writes them as Markdown there and links that file from results.md next to
it (bench/results/results.md).

Usage: bench.py --build BUILD_DIR [--messages N] [--out FILE] [--short]
--short runs a few thousand messages only: for ctest, it checks that every
benchmark runs and says nothing about speed.
"""
import argparse
import datetime
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BINDINGS = os.path.dirname(HERE)
GO_DIR = os.path.join(BINDINGS, "go")


def setup_env(build):
    """The in-tree Python extension and cgo against this build's libshmq."""
    lib = os.path.join(build, "lib")
    os.environ.setdefault("SHMQ_PYTHON_CORE", os.path.join(build, "bindings", "python"))
    os.environ["CGO_LDFLAGS"] = f"-L{lib} -Wl,-rpath,{lib}"
    for k, v in (("GOPROXY", "off"), ("GOFLAGS", "-count=1 -buildvcs=false"),
                 ("GOCACHE", os.path.join(build, "bindings", "go", "cache")),
                 ("GOPATH", os.path.join(build, "bindings", "go", "path"))):
        os.environ.setdefault(k, v)
    sys.path[:0] = [os.path.join(BINDINGS, "python"), HERE]


def c_loop(build, n, size, pair=False):
    exe = os.path.join(build, "bindings", "shmq_bench_c_loop")
    out = subprocess.run([exe, str(n), str(size)] + (["pair"] if pair else []), check=True,
                         capture_output=True, text=True).stdout
    return float(out.split()[3])


def python_one_process(n):
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


def go_one_process(n):
    out = subprocess.run(["go", "test", "-run", "^$", "-bench", "^BenchmarkSendRecvAck$",
                          "-benchtime", f"{n}x", "."], check=True, capture_output=True, text=True,
                         cwd=GO_DIR).stdout
    m = re.search(r"BenchmarkSendRecvAck\S*\s+\d+\s+([\d.]+) ns/op", out)
    if not m:
        raise SystemExit("bench: no result from go test:\n" + out)
    return 1e9 / float(m.group(1))


def go_pairs(n, work):
    exe = os.path.join(work, "shmq-bench")
    subprocess.run(["go", "build", "-o", exe, "./cmd/shmq-bench"], check=True, cwd=GO_DIR)
    out = subprocess.run([exe, "-n", str(n)], check=True, capture_output=True, text=True).stdout
    names = {"recv": "shmq Recv + Ack", "consume1": "shmq Consume, concurrency 1",
             "consume4": "shmq Consume, concurrency 4",
             "batch": "shmq SendBatch / RecvBatch + AckBatch (256)",
             "unix": "Unix socket (SOCK_SEQPACKET), two processes", "chan": "Go channel, one process"}
    return {names[t]: float(r) for t, r in (line.split() for line in out.splitlines())}


def rate(r):
    return f"{r / 1e6:.2f} M" if r >= 1e6 else f"{r / 1e3:.0f} k"


def table(title, rates, base=None):
    lines = [f"### {title}", "", "| | msg/s |" + (f" vs {base} |" if base else ""),
             "| --- | ---: |" + (" ---: |" if base else "")]
    for what, r in rates.items():
        lines.append(f"| {what} | {rate(r)} |" + (f" {r / rates[base]:.2f}x |" if base else ""))
    return lines + [""]


def goals(py, go, c_pair):
    single, batch = py["shmq send / recv + ack"], py["shmq send_many / recv_many + ack_many"]
    pipe, mpq = py["os.pipe"], py["multiprocessing.Queue"]
    recv, consume = go["shmq Recv + Ack"], go["shmq Consume, concurrency 1"]
    gbatch = go["shmq SendBatch / RecvBatch + AckBatch (256)"]
    rows = [
        ("Python send / recv + ack vs os.pipe", 2, single / pipe),
        ("Python send / recv + ack vs multiprocessing.Queue", 5, single / mpq),
        ("Python send_many / recv_many + ack_many vs os.pipe", 5, batch / pipe),
        ("Go Recv + Ack vs the C library's 1 -> 1", 0.5, recv / c_pair),
        ("Go Consume (concurrency 1) vs the Recv + Ack loop", 0.9, consume / recv),
        ("Go batch vs the Recv + Ack loop", 3, gbatch / recv),
    ]
    lines = ["### Goals (issue 14)", "", "| goal | target | measured | status |",
             "| --- | --- | --- | --- |"]
    for what, target, got in rows:
        status = "met" if got >= target else "**not met**"
        lines.append(f"| {what} | >= {target}x | {got:.2f}x | {status} |")
    return lines + [""]


def link_from_results(out):
    """Make results.md next to `out` point at it (run.sh rewrites results.md)."""
    results = os.path.join(os.path.dirname(out), "results.md")
    line = f"Bindings (Python, Go) against pipes, sockets and queues: [{os.path.basename(out)}]({os.path.basename(out)})."
    if os.path.exists(results) and line not in open(results).read():
        with open(results, "a") as f:
            f.write("\n## Bindings\n\n" + line + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True, help="the CMake build directory")
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--out", help="write the Markdown report here")
    ap.add_argument("--short", action="store_true", help="a quick run that checks nothing")
    args = ap.parse_args()
    n = 5000 if args.short else args.messages
    setup_env(os.path.abspath(args.build))
    import py_transports
    base = os.environ.get("SHMQ_DIR") or None
    if base:
        os.makedirs(base, exist_ok=True)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="shmq-bench-", dir=base) as d:
        os.environ["SHMQ_DIR"] = d
        one = {"C API": c_loop(args.build, n, 16), "Python": python_one_process(max(n // 5, 1000)),
               "Go": go_one_process(n)}
        py = py_transports.rates(max(n // 2, 1000))
        go = go_pairs(n, d)
        go["C library (c_loop pair)"] = c_pair = c_loop(args.build, n, 64, pair=True)
    end = os.getloadavg()
    head = [f"# Bindings benchmarks{' (short run: numbers mean nothing)' if args.short else ''}",
            "", f"{datetime.datetime.utcnow():%Y-%m-%dT%H:%M:%SZ}, {os.cpu_count()} CPUs, load "
            f"average (1/5/15 min) at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, at end "
            f"{end[0]:.2f} {end[1]:.2f} {end[2]:.2f}. `bindings/bench/bench.py --messages {n}`.", ""]
    body = (goals(py, go, c_pair)
            + table("Python, 1 producer process -> 1 consumer process, 64 B", py, "os.pipe")
            + table("Go, 1 producer process -> 1 consumer process, 64 B", go, "shmq Recv + Ack")
            + table("send + recv + ack of 16 B in one process", one, "C API"))
    report = "\n".join(head + body)
    print(report)
    if args.out and not args.short:
        with open(args.out, "w") as f:
            f.write(report)
        link_from_results(os.path.abspath(args.out))


if __name__ == "__main__":
    main()
