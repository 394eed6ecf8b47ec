#!/usr/bin/env python3
"""The analytics worker: leases order.created events from the `analytics`
consumer group of the topic `orders` and appends one line per order to
OUTBOX/analytics.log: order id, item count, units, and the traceparent.

  analytics_worker.py --outbox DIR [--topic orders] [--group analytics]

The group is not in shmqd's config: the walkthrough binds it live with
`shmqctl group add orders analytics`, and it receives the orders published
from then on. At least once: a worker killed between its write and its ack
writes that order's line again when it is redelivered (a report tolerates
that; the inventory worker shows the idempotent way).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys

import shmq
from email_worker import trace_of
from orders import ANALYTICS_GROUP, TOPIC


def line(msg: shmq.Message) -> str:
    """The log line for one event; ValueError/KeyError/TypeError if it is not one."""
    order = json.loads(msg.data)
    units = sum(int(i["qty"]) for i in order["items"])
    return f"{order['order_id']} items={len(order['items'])} units={units} trace={trace_of(msg)}\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--outbox", required=True, help="where analytics.log is written")
    ap.add_argument("--topic", default=TOPIC)
    ap.add_argument("--group", default=ANALYTICS_GROUP)
    args = ap.parse_args()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    try:
        group = shmq.Queue.open_group(args.topic, args.group, prefetch=16)
    except shmq.Error as e:
        sys.exit(f"analytics: {args.topic}/{args.group}: {e} (bound with `shmqctl group add`?)")
    os.makedirs(args.outbox, exist_ok=True)
    counts = {"recorded": 0, "rejected": 0}
    with group, open(os.path.join(args.outbox, "analytics.log"), "a") as out:
        print(f"analytics: consuming {args.topic}/{args.group} (pid {os.getpid()})",
              file=sys.stderr, flush=True)
        while not stop:
            try:
                msg = group.recv(timeout=0.2)  # short, so SIGTERM is seen promptly
            except (shmq.Timeout, shmq.Interrupted):
                continue
            try:
                text = line(msg)
            except (ValueError, KeyError, TypeError) as e:
                print(f"analytics: message {msg.id}: not an order ({e!r}): rejected",
                      file=sys.stderr, flush=True)
                msg.reject()
                counts["rejected"] += 1
                continue
            out.write(text)
            out.flush()  # written before the ack: a crash repeats a line, never drops one
            msg.ack()
            counts["recorded"] += 1
            print(f"analytics: message {msg.id} traceparent {trace_of(msg)}: recorded",
                  file=sys.stderr, flush=True)
    print(json.dumps({"worker": "analytics", **counts}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
