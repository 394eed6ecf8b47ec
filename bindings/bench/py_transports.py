"""The Python binding 1 producer process -> 1 consumer process, 64-byte
messages, next to what a Python programmer would use instead: os.pipe, a
SOCK_SEQPACKET socketpair and multiprocessing.Queue, in the same run.

Each transport: the producer is forked and ready before the clock starts;
the consumer (this process) starts the clock, tells it to go, and stops the
clock at the last message (shmq: received and acked). rates(n) returns
{transport: msg/s}; bench.py prints and records them.
"""
import multiprocessing
import os
import socket
import time
import traceback

import shmq

SIZE = 64
BATCH = 256
PAYLOAD = b"x" * SIZE


def _pair(produce, consume, n):
    """Fork the producer, then time consume(n) from the go signal."""
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.read(go_r, 1)
            produce(n)
        except BaseException:
            traceback.print_exc()
            code = 1
        os._exit(code)
    start = time.perf_counter()
    os.write(go_w, b"g")
    consume(n)
    elapsed = time.perf_counter() - start
    _, status = os.waitpid(pid, 0)
    os.close(go_r)
    os.close(go_w)
    if status != 0:
        raise SystemExit(f"py_transports: producer failed ({status})")
    return n / elapsed


def _shmq(n, batch):
    name = f"pybench.{os.getpid()}.{int(batch)}"
    q = shmq.Queue.create(name, slot_size=SIZE, slot_count=4096, prefetch=BATCH)

    def produce(n):  # q was opened before the fork: it opens the queue again here
        if batch:
            chunk = [PAYLOAD] * BATCH
            for i in range(0, n, BATCH):
                q.send_many(chunk[:n - i])
        else:
            send = q.send
            for _ in range(n):
                send(PAYLOAD)

    def consume(n):
        if batch:
            got = 0
            recv_many, ack_many = q.recv_many, q.ack_many
            while got < n:
                msgs = recv_many(BATCH)
                ack_many(msgs)
                got += len(msgs)
        else:
            recv = q.recv
            for _ in range(n):
                recv().ack()
    try:
        return _pair(produce, consume, n)
    finally:
        q.close()
        shmq.unlink(name)


def _pipe(n):
    r, w = os.pipe()

    def produce(n):
        for _ in range(n):
            os.write(w, PAYLOAD)

    def consume(n):
        read = os.read
        for _ in range(n):
            data = read(r, SIZE)
            while len(data) < SIZE:  # a pipe is a byte stream
                data += read(r, SIZE - len(data))
    try:
        return _pair(produce, consume, n)
    finally:
        os.close(r)
        os.close(w)


def _seqpacket(n):
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)

    def produce(n):
        for _ in range(n):
            a.send(PAYLOAD)

    def consume(n):
        recv = b.recv
        for _ in range(n):
            recv(SIZE)
    try:
        return _pair(produce, consume, n)
    finally:
        a.close()
        b.close()


def _mp_queue(n):
    q = multiprocessing.get_context("fork").Queue()

    def produce(n):
        for _ in range(n):
            q.put(PAYLOAD)
        q.close()
        q.join_thread()  # everything flushed to the pipe before exiting

    def consume(n):
        get = q.get
        for _ in range(n):
            get()
    return _pair(produce, consume, n)


def rates(n):
    return {
        "shmq send / recv + ack": _shmq(n, False),
        "shmq send_many / recv_many + ack_many": _shmq(n, True),
        "os.pipe": _pipe(n),
        "SEQPACKET socketpair": _seqpacket(n),
        "multiprocessing.Queue": _mp_queue(max(n // 4, 1000)),
    }
