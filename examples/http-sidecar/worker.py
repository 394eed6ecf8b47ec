#!/usr/bin/env python3
"""A worker with the Python binding (shared memory, no HTTP) on the same queue
the HTTP clients use: receives COUNT messages, prints each, acks it. Fails
after 5 s without a message.

  worker.py QUEUE COUNT
"""
import sys

import shmq


def main() -> int:
    name, count = sys.argv[1], int(sys.argv[2])
    with shmq.Queue(name, prefetch=1) as queue:
        for _ in range(count):
            try:
                msg = queue.recv(timeout=5)
            except shmq.Timeout:
                sys.exit("worker.py: nothing came for 5 s")
            print(bytes(msg.data).decode(), flush=True)
            msg.ack()
    return 0


if __name__ == "__main__":
    sys.exit(main())
