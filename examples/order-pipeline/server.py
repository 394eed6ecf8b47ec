#!/usr/bin/env python3
"""The shop's web server: POST /orders takes an order, records it, publishes
order.created once to the topic `orders` and answers 202 at once; the email
and the inventory update happen behind it, in the topic's consumer groups.
GET /healthz says it is up.

  server.py --data DIR [--port 8080] [--mode queue|sync]

--mode sync is the same shop without the queue for email: the request
sends the email itself (with a few inline retries) before answering, so the
user waits for the provider and sees its failures. The load script compares
the two. The event is published in both modes (the inventory needs it); in
sync mode it says the email went out already, and the email group only acks it.

Requests (JSON): {"user_id": "u-1", "email": "a@example.com",
"items": [{"sku": "SKU-1", "qty": 2}], "locale": "en"}, with an optional
Idempotency-Key header (1..128 bytes): retries with the same key are the same
order (the same order id, derived from the key) and are published once: the
key is the publish's deduplication key, and the topic's window (shmqd.toml,
dedup_window_ms) stores a retry inside it as nothing. And
an optional W3C traceparent header: the event carries the server's span of
that trace (a new trace without one) as its `traceparent` message header, the
workers log it, and the answer has it as its own traceparent header.
Answers: 202 {"order_id"}, 400 {"error"} for a bad order, 411 without a
Content-Length, 413 for a body over 64 KiB, 503 {"error"} with Retry-After when the topic refuses the message
or its deduplication table is full (nothing was half-published silently: the client retries with its key).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import shmq
import orders
from mailer import Mailer, TransientError

MAX_BODY = 64 * 1024
SEND_TIMEOUT = 0.5  # seconds a full queue may hold a request before 503


class Shop:
    """What the handlers share: the order log, the topic's handle, the sync mailer."""

    def __init__(self, data: str, mode: str, mailer: Mailer | None) -> None:
        os.makedirs(data, exist_ok=True)
        self.log = open(os.path.join(data, "orders.jsonl"), "ab", buffering=0)
        self.lock = threading.Lock()
        self.mode = mode
        self.mailer = mailer
        self.topic = shmq.Queue(orders.TOPIC)  # a topic's handle: it publishes
        if self.topic.params.dedup_window is None:  # an Idempotency-Key would be refused on every request
            self.topic.close()
            raise shmq.InvalidArgument(f"topic {orders.TOPIC} has no deduplication window (shmqd.toml: "
                                       "dedup_window_ms; a topic made before it must be re-created)")

    def close(self) -> None:
        self.log.close()
        self.topic.close()

    def place(self, oid: str, order: dict, trace: str, key: str | None = None) -> None:
        """Record the order, then publish it once (every bound group gets it, or
        none does) under its Idempotency-Key if it has one: a retry within the
        topic's window publishes nothing. Raises shmq.Full/Timeout/NotFound/
        DedupTableFull, or in sync mode the email's error (then nothing is recorded)."""
        payload = orders.event(oid, order, emailed=self.mode == "sync")
        if self.mode == "sync":
            self.email_inline(json.loads(payload))
        with self.lock:  # one line per request, whole: this is the shop's database (a retry adds its line again)
            self.log.write(payload + b"\n")
        self.topic.send(payload, timeout=SEND_TIMEOUT, headers={"traceparent": trace},
                        **({"dedup_key": key} if key else {}))

    def email_inline(self, order: dict) -> None:
        subject, body = orders.confirmation(order)  # the poison order fails the request here
        for attempt in range(3):
            try:
                self.mailer.send(order["order_id"], order["email"], subject, body)
                return
            except TransientError:
                if attempt == 2:
                    raise
                time.sleep(0.05 * 2 ** attempt)  # backoff inside the request: the user waits


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a load balancer would use
    wbufsize = -1  # buffered: headers and body leave in one segment (flushed per request);
    disable_nagle_algorithm = True  # unbuffered, Nagle + delayed ACK cost 40 ms a request
    server: "Server"

    def do_GET(self) -> None:
        if self.path != "/healthz":
            return self.reply(404, {"error": f"no such path {self.path}"})
        self.reply(200, {"ok": True, "mode": self.server.shop.mode})

    def do_POST(self) -> None:
        if self.path != "/orders":
            return self.reply(404, {"error": f"no such path {self.path}"})
        length = self.headers.get("Content-Length", "")
        if not length.isdigit():  # chunked bodies are not taken
            self.close_connection = True
            return self.reply(411, {"error": "a Content-Length header is required"})
        length = int(length)
        if length > MAX_BODY:
            self.close_connection = True
            return self.reply(413, {"error": f"body over {MAX_BODY} bytes"})
        key = self.headers.get("Idempotency-Key")  # http.server reads header values as Latin-1
        if key is not None and not 1 <= len(key.encode()) <= shmq.MAX_DEDUP_KEY:
            return self.reply(400, {"error": f"Idempotency-Key: 1..{shmq.MAX_DEDUP_KEY} bytes"})
        try:
            body = json.loads(self.rfile.read(length) or b"null")
        except ValueError as e:  # also bad UTF-8
            return self.reply(400, {"error": f"the body is not JSON: {e}"})
        try:
            order = orders.validate(body)
        except orders.InvalidOrder as e:
            return self.reply(400, {"error": str(e)})
        oid = orders.order_id(key)
        trace = orders.traceparent(self.headers.get("traceparent"))
        try:
            self.server.shop.place(oid, order, trace, key)
        except (shmq.Full, shmq.Timeout) as e:
            return self.reply(503, {"error": f"topic full ({e}); retry"}, {"Retry-After": "1"})
        except shmq.DedupTableFull as e:  # more keys inside the window than the table holds
            return self.reply(503, {"error": f"too many orders in the deduplication window ({e}); retry"},
                              {"Retry-After": "1"})
        except shmq.NotFound as e:  # no group bound: nobody would get it, so nothing was sent
            return self.reply(503, {"error": f"no consumer group ({e}); retry"}, {"Retry-After": "1"})
        except (TransientError, KeyError) as e:  # sync mode only: the provider or the template
            return self.reply(502, {"error": f"could not send the email: {e!r}"})
        self.reply(202, {"order_id": oid}, {"traceparent": trace})

    def reply(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:  # quiet: one line per request is noise
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple, shop: Shop) -> None:
        super().__init__(address, Handler)
        self.shop = shop


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="where orders.jsonl (the order log) lives")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    ap.add_argument("--mode", choices=("queue", "sync"), default="queue")
    ap.add_argument("--outbox", help="sync mode: the provider's outbox")
    ap.add_argument("--mail-latency-ms", type=float, default=20.0)
    ap.add_argument("--fail-rate", type=float, default=0.0)
    args = ap.parse_args()
    if args.mode == "sync" and not args.outbox:
        ap.error("--mode sync needs --outbox")
    mailer = (Mailer(args.outbox, args.mail_latency_ms / 1000, args.fail_rate)
              if args.mode == "sync" else None)
    try:
        shop = Shop(args.data, args.mode, mailer)
    except shmq.Error as e:
        sys.exit(f"server: {e} (is shmqd running with the example's config?)")
    server = Server((args.host, args.port), shop)
    host, port = server.server_address[:2]
    print(f"server: listening on http://{host}:{port} (mode {args.mode})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    shop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
