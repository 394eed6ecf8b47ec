"""Tests of the order pipeline's parts: order validation, the traceparent, the
mailer, the web server's answers and the email worker's idempotency, each
against a real topic and its groups in a private SHMQ_DIR. The whole pipeline, with shmqd and real processes, is
tested by `pipeline.py run --check` (ctest example_order_pipeline)."""
from __future__ import annotations

import http.client
import json
import os
import socket
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)
_shm = tempfile.TemporaryDirectory(prefix="shmq-orders-test-", dir="/dev/shm")
os.environ["SHMQ_DIR"] = _shm.name

import shmq  # noqa: E402
import orders  # noqa: E402
from email_worker import Worker  # noqa: E402
from mailer import Mailer, TransientError  # noqa: E402
from server import Server, Shop  # noqa: E402

GOOD = {"user_id": "u-1", "email": "ann@example.com", "items": [{"sku": "SKU-1", "qty": 2}]}


def make_groups(groups: tuple = orders.GROUPS) -> dict:
    """The topic (key "") and a handle on each of its groups, as shmqd makes them."""
    try:
        shmq.unlink(orders.TOPIC)
    except shmq.NotFound:
        pass
    topic = shmq.Queue.create(orders.TOPIC, slot_size=2048, slot_count=64, max_attempts=3,
                              backoff_base=0, backoff_cap=0, max_groups=4, dedup_window=600)
    for g in groups:
        topic.add_group(g)
    return {"": topic, **{g: shmq.Queue.open_group(orders.TOPIC, g) for g in groups}}


class ValidateTest(unittest.TestCase):
    def test_good_order_is_normalised(self):
        self.assertEqual(orders.validate(GOOD), {**GOOD, "locale": "en"})

    def test_bad_orders_name_the_field(self):
        cases = {
            "body": [], "unknown field": {**GOOD, "admin": True},
            "user_id": {**GOOD, "user_id": "../etc"}, "email": {**GOOD, "email": "ann"},
            "locale": {**GOOD, "locale": "EN"}, "items": {**GOOD, "items": []},
            "items[0]": {**GOOD, "items": [{"sku": "S"}]},
            "items[0].sku": {**GOOD, "items": [{"sku": "a b", "qty": 1}]},
            "items[0].qty": {**GOOD, "items": [{"sku": "S", "qty": True}]},
        }
        for field, body in cases.items():
            with self.subTest(field), self.assertRaisesRegex(orders.InvalidOrder, field.split("[")[0]):
                orders.validate(body)
        with self.assertRaisesRegex(orders.InvalidOrder, r"1\.\.20"):
            orders.validate({**GOOD, "items": [{"sku": "S", "qty": 1}] * 21})

    def test_order_id_is_stable_per_key(self):
        self.assertEqual(orders.order_id("k1"), orders.order_id("k1"))
        self.assertNotEqual(orders.order_id("k1"), orders.order_id("k2"))
        self.assertNotEqual(orders.order_id(None), orders.order_id(None))

    def test_confirmation_fails_without_template_unless_fallback(self):
        order = {**GOOD, "order_id": "ord-1", "locale": "xx"}
        with self.assertRaises(KeyError):
            orders.confirmation(order)
        subject, body = orders.confirmation(order, "de")
        self.assertEqual(subject, "Ihre Bestellung ord-1")
        self.assertIn("2 x SKU-1", body)


class TraceparentTest(unittest.TestCase):
    def test_the_callers_trace_continues_with_a_new_span(self):
        caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        mine = orders.traceparent(caller)
        self.assertRegex(mine, r"^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$")
        self.assertNotEqual(mine, caller)

    def test_a_missing_or_invalid_header_starts_a_new_trace(self):
        bad = [None, "", "junk", "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
               "00-" + "0" * 32 + "-b7ad6b7169203331-01", "00-0af7651916cd43dd8448eb211c80319c-"
               + "0" * 16 + "-01", "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"]
        for header in bad:
            with self.subTest(header):
                t = orders.traceparent(header)
                self.assertRegex(t, r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$")
                self.assertNotIn("0af7651916cd43dd8448eb211c80319c", t)
        self.assertNotEqual(orders.traceparent(None), orders.traceparent(None))


class MailerTest(unittest.TestCase):
    def test_one_email_per_message_id(self):
        with tempfile.TemporaryDirectory() as d:
            m = Mailer(d, latency=0)
            self.assertTrue(m.send("ord-1", "a@b.cc", "s", "b"))
            self.assertFalse(m.send("ord-1", "a@b.cc", "s", "b"))
            self.assertEqual(os.listdir(d), ["ord-1.eml"])

    def test_flaky_calls_send_nothing(self):
        with tempfile.TemporaryDirectory() as d:
            m = Mailer(d, latency=0, fail_rate=0.5, seed=7)
            outcomes = []
            for i in range(40):
                try:
                    outcomes.append(m.send(f"ord-{i}", "a@b.cc", "s", "b"))
                except TransientError:
                    outcomes.append(None)
            self.assertIn(None, outcomes)
            self.assertEqual(len(os.listdir(d)), outcomes.count(True))


class ServerTest(unittest.TestCase):
    def start(self, mode: str) -> None:
        self.queues = make_groups()
        self.tmp = tempfile.TemporaryDirectory()
        mailer = Mailer(self.tmp.name + "/outbox", latency=0) if mode == "sync" else None
        self.server = Server(("127.0.0.1", 0), Shop(self.tmp.name, mode, mailer))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.addCleanup(self.stop)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.server.shop.close()
        for q in self.queues.values():
            q.close()
        self.tmp.cleanup()

    def request(self, method: str, path: str, body=None, headers=None) -> tuple[int, dict]:
        status, body, _ = self.exchange(method, path, body, headers)
        return status, body

    def exchange(self, method: str, path: str, body=None, headers=None) -> tuple[int, dict, dict]:
        c = http.client.HTTPConnection(*self.server.server_address[:2], timeout=10)
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        c.request(method, path, data, headers or {})
        r = c.getresponse()
        out = r.status, json.loads(r.read()), dict(r.getheaders())
        c.close()
        return out

    def test_order_is_recorded_and_published_once_to_both_groups(self):
        self.start("queue")
        status, body = self.request("POST", "/orders", GOOD, {"Idempotency-Key": "k"})
        self.assertEqual(status, 202)
        self.assertEqual(self.queues[""].stats().enqueued, 1)  # one payload for both groups
        for g in orders.GROUPS:
            with self.queues[g].recv(timeout=0) as m:
                self.assertEqual(json.loads(m.data)["order_id"], body["order_id"])
        with open(os.path.join(self.tmp.name, "orders.jsonl")) as f:
            self.assertEqual(json.loads(f.read())["order_id"], body["order_id"])
        # A retry with the key: the same order, and nothing published (the topic's window).
        self.assertEqual(self.request("POST", "/orders", GOOD, {"Idempotency-Key": "k"})[1], body)
        self.assertEqual(self.queues[""].stats().enqueued, 1)
        for g in orders.GROUPS:
            with self.assertRaises(shmq.Empty):
                self.queues[g].recv(timeout=0)
        status, body = self.request("POST", "/orders", GOOD, {"Idempotency-Key": "k" * 129})
        self.assertEqual((status, body["error"]), (400, "Idempotency-Key: 1..128 bytes"))

    def test_the_traceparent_travels_as_a_message_header(self):
        self.start("queue")
        caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        status, _, headers = self.exchange("POST", "/orders", GOOD, {"traceparent": caller})
        self.assertEqual(status, 202)
        mine = headers["traceparent"]
        self.assertTrue(mine.startswith("00-0af7651916cd43dd8448eb211c80319c-"), mine)
        for g in orders.GROUPS:  # the same span in every group
            with self.queues[g].recv(timeout=0) as m:
                self.assertEqual(m.headers, {"traceparent": mine})
        status, _, headers = self.exchange("POST", "/orders", GOOD)  # none: a new trace
        with self.queues[orders.EMAIL_GROUP].recv(timeout=0) as m:
            self.assertEqual(m.headers["traceparent"], headers["traceparent"])
            self.assertNotIn("0af7651916cd43dd8448eb211c80319c", headers["traceparent"])

    def test_no_group_bound_is_503_and_nothing_is_published(self):
        self.queues = make_groups(groups=())
        self.tmp = tempfile.TemporaryDirectory()
        self.server = Server(("127.0.0.1", 0), Shop(self.tmp.name, "queue", None))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.addCleanup(self.stop)
        status, body = self.request("POST", "/orders", GOOD)
        self.assertEqual((status, body["error"][:17]), (503, "no consumer group"))
        self.assertEqual(self.queues[""].stats().enqueued, 0)

    def test_bad_requests_get_clear_errors(self):
        self.start("queue")
        self.assertEqual(self.request("POST", "/orders", b"{nope")[0], 400)
        status, body = self.request("POST", "/orders", {**GOOD, "email": "x"})
        self.assertEqual((status, body["error"][:6]), (400, "email:"))
        self.assertEqual(self.request("POST", "/orders", b"x" * 70000)[0], 413)
        self.assertEqual(self.request("GET", "/orders")[0], 404)
        self.assertEqual(self.request("GET", "/healthz"), (200, {"ok": True, "mode": "queue"}))
        with socket.create_connection(self.server.server_address[:2]) as s:
            s.sendall(b"POST /orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            self.assertIn(b" 411 ", s.recv(200))
        self.assertEqual(self.queues[orders.EMAIL_GROUP].stats().ready, 0)

    def test_sync_mode_emails_before_answering_and_fails_the_poison(self):
        self.start("sync")
        status, body = self.request("POST", "/orders", GOOD)
        self.assertEqual(status, 202)
        self.assertEqual(os.listdir(self.tmp.name + "/outbox"), [body["order_id"] + ".eml"])
        self.assertEqual(self.request("POST", "/orders", {**GOOD, "locale": "xx"})[0], 502)
        for g in orders.GROUPS:  # published to both; the email group's says it was sent
            with self.queues[g].recv(timeout=0) as m:
                self.assertTrue(json.loads(m.data)["email_sent_inline"])
            self.assertEqual(self.queues[g].stats().ready, 0)


class EmailWorkerTest(unittest.TestCase):
    def setUp(self):
        self.queues = make_groups()
        self.topic, self.q = self.queues[""], self.queues[orders.EMAIL_GROUP]
        self.tmp = tempfile.TemporaryDirectory()
        self.worker = Worker(self.q, Mailer(self.tmp.name + "/outbox", latency=0), self.tmp.name, None)
        self.addCleanup(self.tmp.cleanup)
        self.addCleanup(lambda: [q.close() for q in self.queues.values()])

    def deliver(self, payload: bytes) -> None:
        self.topic.send(payload)
        self.worker.handle(self.q.recv(timeout=0))

    def test_second_delivery_sends_no_second_email(self):
        calls = []
        send = self.worker.mailer.send
        self.worker.mailer.send = lambda *a: calls.append(a) or send(*a)
        event = orders.event("ord-1", orders.validate(GOOD))
        self.deliver(event)
        self.deliver(event)
        self.assertEqual(len(calls), 1)  # the processed record, not only the provider's key
        self.assertEqual(self.worker.counts["sent"], 1)
        self.assertEqual(self.worker.counts["duplicates"], 1)
        self.assertEqual(os.listdir(self.tmp.name + "/outbox"), ["ord-1.eml"])
        self.assertEqual(self.q.stats().acked, 2)

    def test_poison_is_retried_then_dead(self):
        self.deliver(orders.event("ord-2", {**orders.validate(GOOD), "locale": "xx"}))
        for _ in range(2):  # max_attempts 3, backoff 0
            self.q.recover()
            self.worker.handle(self.q.recv(timeout=0))
        s = self.q.stats()
        self.assertEqual((s.nacked, s.dead, self.worker.counts["failed_attempts"]), (3, 1, 3))

    def test_an_order_emailed_inline_is_only_acked(self):
        self.deliver(orders.event("ord-3", orders.validate(GOOD), emailed=True))
        self.assertEqual(os.listdir(self.tmp.name + "/outbox") if os.path.isdir(
            self.tmp.name + "/outbox") else [], [])
        self.assertEqual((self.q.stats().acked, self.worker.counts["sent_inline"]), (1, 1))

    def test_junk_is_rejected_at_once(self):
        self.deliver(b"not json")
        self.assertEqual((self.q.stats().rejected, self.worker.counts["rejected"]), (1, 1))


if __name__ == "__main__":
    unittest.main()
