"""A second process for the tests: `child.py send NAME MSG...` sends and
exits; `child.py hold NAME` leases one message, prints its id, and then
waits to be killed; `child.py send-keys NAME N` prints "ready", waits for a
line on stdin, sends N messages with dedup keys k0 .. k(N-1), and prints how
many were duplicates."""
import signal
import sys

import shmq


def main(mode: str, name: str, *rest: str) -> None:
    q = shmq.Queue(name)
    if mode == "send":
        for data in rest:
            q.send(data.encode())
    elif mode == "send-keys":
        print("ready", flush=True)
        sys.stdin.readline()
        print(sum(q.send(b"x", dedup_key=f"k{i}").duplicate for i in range(int(rest[0]))), flush=True)
    elif mode == "hold":
        msg = q.recv(timeout=10)
        print(msg.id, flush=True)
        while True:
            signal.pause()
    else:
        raise SystemExit(f"child.py: unknown mode {mode}")
    q.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
