#!/usr/bin/env python3
"""The email worker: leases order.created events from the `email` consumer
group of the topic `orders` and sends the confirmation email, exactly once
per order. Its log lines carry each message's traceparent header.

  email_worker.py --outbox DIR --state DIR [--fail-rate 0.2] [--fallback-locale en]

Idempotency, in two layers:
  1. the processed-id record: ``<state>/email-processed/<order_id>``, made
     after the provider accepted the email and before the ack. A redelivery
     (a worker died after sending, a lease ran out) finds it and only acks.
  2. the provider's idempotency key (the Message-ID): a worker killed between
     the provider's "sent" and step 1 cannot make a second email either.
     With a provider that has no such key, that window is the one place
     where at-least-once delivery can send twice.
The ack comes last: a crash anywhere before it means redelivery, not loss.

A failed attempt (the flaky provider, or a bug such as an order whose locale
has no template) is nacked: the group retries it with capped exponential
backoff, and after max_attempts it goes to the group's dead-letter store
(`orders.email`). An order whose email the server sent inline (its sync mode)
is only acked.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys

import shmq
from mailer import Mailer, TransientError
from orders import EMAIL_GROUP, TOPIC, confirmation

class Worker:
    def __init__(self, queue: shmq.Queue, mailer: Mailer, state: str,
                 fallback_locale: str | None) -> None:
        self.queue = queue
        self.mailer = mailer
        self.processed = os.path.join(state, "email-processed")
        os.makedirs(self.processed, exist_ok=True)
        self.fallback = fallback_locale
        self.counts = {"sent": 0, "duplicates": 0, "failed_attempts": 0, "rejected": 0,
                       "sent_inline": 0}

    def handle(self, msg: shmq.Message) -> None:
        try:
            order = json.loads(msg.data)
            oid, to = order["order_id"], order["email"]
        except (ValueError, KeyError, TypeError) as e:
            self.log(msg, f"not an order event ({e!r}): rejected to the dead-letter queue")
            msg.reject()  # retrying cannot fix it
            self.counts["rejected"] += 1
            return
        if order.get("email_sent_inline"):
            msg.ack()
            self.counts["sent_inline"] += 1
            return
        marker = os.path.join(self.processed, oid)
        if os.path.exists(marker):
            msg.ack()
            self.counts["duplicates"] += 1
            self.log(msg, f"{oid} already emailed: acked without sending")
            return
        try:
            subject, body = confirmation(order, self.fallback)  # KeyError: the poison
            sent = self.mailer.send(oid, to, subject, body)
        except Exception as e:  # the provider, or a bug: retry with backoff
            self.fail(msg, oid, e)
            return
        open(marker, "w").close()
        msg.ack()
        self.counts["sent" if sent else "duplicates"] += 1
        self.log(msg, f"{oid} emailed to {to}" if sent else f"{oid} was sent already (provider key)")

    def fail(self, msg: shmq.Message, oid: str, e: Exception) -> None:
        self.counts["failed_attempts"] += 1
        last = msg.attempt >= self.queue.params.max_attempts
        what = "the group dead-letters it" if last else "retry with backoff"
        if last or not isinstance(e, TransientError):
            self.log(msg, f"{oid} attempt {msg.attempt} failed ({e!r}): {what}")
        msg.nack()

    def log(self, msg: shmq.Message, text: str) -> None:
        print(f"email[{os.getpid()}]: message {msg.id} traceparent {trace_of(msg)}: {text}",
              file=sys.stderr, flush=True)


def trace_of(msg: shmq.Message) -> str:
    """The message's traceparent header, for a log line ("-" without one)."""
    try:
        return msg.headers.get("traceparent", "-")
    except shmq.Corrupt:
        return "(damaged headers)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--topic", default=TOPIC)
    ap.add_argument("--group", default=EMAIL_GROUP)
    ap.add_argument("--outbox", required=True, help="the provider's sent mail (.eml files)")
    ap.add_argument("--state", required=True, help="where the processed-id record lives")
    ap.add_argument("--mail-latency-ms", type=float, default=20.0)
    ap.add_argument("--fail-rate", type=float, default=0.0, help="share of provider calls that fail")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--fallback-locale", default=None, help="the fix for orders without a template")
    args = ap.parse_args()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    try:
        queue = shmq.Queue.open_group(args.topic, args.group, prefetch=1)
    except shmq.Error as e:
        sys.exit(f"email: {args.topic}/{args.group}: {e} (is shmqd running with the example's config?)")
    mailer = Mailer(args.outbox, args.mail_latency_ms / 1000, args.fail_rate, args.seed)
    worker = Worker(queue, mailer, args.state, args.fallback_locale)
    print(f"email: consuming {args.topic}/{args.group} (pid {os.getpid()})", file=sys.stderr, flush=True)
    with queue:
        while not stop:
            try:
                msg = queue.recv(timeout=0.2)  # short, so SIGTERM is seen promptly
            except (shmq.Timeout, shmq.Interrupted):
                continue
            try:
                worker.handle(msg)
            except shmq.LeaseLost:  # held too long (a stall): it is redelivered
                worker.log(msg, "lease lost before the ack; the group redelivers it")
    print(json.dumps({"worker": "email", **worker.counts}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
