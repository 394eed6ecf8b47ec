"""A second process for the tests: `child.py send NAME MSG...` sends and
exits; `child.py hold NAME` leases one message, prints its id, and then
waits to be killed."""
import signal
import sys

import shmq


def main(mode: str, name: str, *rest: str) -> None:
    q = shmq.Queue(name)
    if mode == "send":
        for data in rest:
            q.send(data.encode())
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
