"""send and send_many return the ids consumers see; delay= and at= keep a
message back until its time (seconds, timedelta or datetime); ttl= (or the
queue's ttl) dead-letters a message not leased in time; a delay or ttl out
of range raises before anything is sent."""
import asyncio
import datetime
import math
import time
import unittest

import support
import shmq


class Ids(support.QueueTest):
    def test_send_returns_the_id_the_consumer_sees(self):
        sent = self.q.send(b"one")
        self.assertIsInstance(sent, int)
        with self.q.recv(timeout=1) as msg:
            self.assertEqual(msg.id, sent)

    def test_send_many_appends_the_ids_of_what_it_sent(self):
        ids = []
        self.assertEqual(self.q.send_many([b"%d" % i for i in range(50)], ids=ids), 50)
        self.assertEqual(len(ids), 50)
        for i in range(50):
            with self.q.recv(timeout=1) as msg:
                self.assertEqual((msg.data, msg.id), (b"%d" % i, ids[i]))
        self.assertRaises(TypeError, self.q.send_many, [b"x"], ids=())

    def test_send_async_returns_the_id(self):
        sent = asyncio.run(self.q.send_async(b"a"))
        with self.q.recv(timeout=1) as msg:
            self.assertEqual(msg.id, sent)


class FullQueue(support.QueueTest):
    create_args = {"slot_size": 64, "slot_count": 2, "overflow": "fail"}

    def test_a_failed_send_many_still_gives_the_ids_it_sent(self):
        ids = []
        with self.assertRaises(shmq.Full) as cm:
            self.q.send_many([b"a", b"b", b"c"], ids=ids)
        self.assertEqual((cm.exception.sent, len(ids)), (2, 2))


class Delays(support.QueueTest):
    def _first_lease_after(self, wait, **kw):
        start = time.monotonic()
        sent = self.q.send(b"later", **kw)
        self.q.send(b"now")
        self.assertEqual(self.q.stats().delayed, 1)
        with self.q.recv(timeout=0) as msg:
            self.assertEqual(msg.data, b"now")  # the delayed one does not hold the queue up
        with self.q.recv(timeout=10) as msg:
            took = time.monotonic() - start
            self.assertEqual((msg.data, msg.id), (b"later", sent))
        self.assertGreaterEqual(took, wait)

    def test_delay_in_seconds(self):
        self._first_lease_after(0.1, delay=0.1)

    def test_delay_as_timedelta(self):
        self._first_lease_after(0.1, delay=datetime.timedelta(milliseconds=100))

    def test_at_a_datetime(self):
        at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(milliseconds=150)
        self._first_lease_after(0.1, at=at)  # wall and monotonic clocks may differ a little

    def test_a_time_in_the_past_is_ready_at_once(self):
        sent = self.q.send(b"x", at=time.time() - 60)
        with self.q.recv(timeout=0) as msg:
            self.assertEqual(msg.id, sent)

    def test_send_many_delays_each_message(self):
        start = time.monotonic()
        self.q.send_many([b"1", b"2"], delay=0.05)
        self.assertEqual(self.q.stats().delayed, 2)
        got = []
        for _ in range(2):
            with self.q.recv(timeout=10) as msg:
                got.append(msg.data)
        got.sort()
        self.assertGreaterEqual(time.monotonic() - start, 0.05)
        self.assertEqual(got, [b"1", b"2"])

    def test_bad_delays_raise_and_send_nothing(self):
        self.q.send(b"x", delay=datetime.timedelta(days=7))  # a week is fine
        with self.assertRaises(shmq.OutOfRange):
            self.q.send(b"x", delay=datetime.timedelta(days=15))
        self.assertRaises(ValueError, self.q.send, b"x", delay=-1)
        self.assertRaises(shmq.InvalidArgument, self.q.send, b"x", delay=float("nan"))
        self.assertRaises(shmq.InvalidArgument, self.q.send, b"x", delay=1, at=time.time())
        self.assertRaises(TypeError, self.q.send, b"x", delay="soon")
        with self.assertRaises(shmq.OutOfRange):
            self.q.send_many([b"a"], delay=10**9)
        s = self.q.stats()
        self.assertEqual((s.enqueued, s.delayed), (1, 1))


class Expiry(support.QueueTest):
    def _wait(self, seconds):
        end = time.monotonic() + seconds  # a ttl is a time: let it pass
        while time.monotonic() < end:
            time.sleep(0.005)

    def test_a_message_not_leased_within_its_ttl_is_never_delivered(self):
        self.q.send(b"gone", ttl=0.02)
        kept = self.q.send(b"kept", ttl=datetime.timedelta(seconds=60))
        self._wait(0.05)
        with self.q.recv(timeout=0) as msg:
            self.assertEqual(msg.id, kept)
        s = self.q.stats()
        self.assertEqual((s.expired, s.dead, s.delivered), (1, 1, 1))

    def test_send_many_applies_the_ttl_to_each(self):
        self.q.send_many([b"a", b"b"], ttl=0.02)
        self._wait(0.05)
        self.assertRaises(shmq.Empty, self.q.recv, timeout=0)
        self.assertEqual(self.q.stats().expired, 2)

    def test_bad_ttls_raise_and_send_nothing(self):
        self.assertRaises(shmq.InvalidArgument, self.q.send, b"x", ttl=0)
        self.assertRaises(ValueError, self.q.send, b"x", ttl=-1)
        with self.assertRaises(shmq.OutOfRange):
            self.q.send(b"x", ttl=datetime.timedelta(days=8))
        self.assertEqual(self.q.stats().enqueued, 0)


class QueueTtl(support.QueueTest):
    create_args = {"slot_size": 64, "slot_count": 4, "ttl": 0.02}

    def test_the_queue_ttl_applies_to_sends_without_one(self):
        self.assertEqual(self.q.params.ttl, 0.02)
        self.q.send(b"default")
        own = self.q.send(b"own", ttl=60)
        never = self.q.send(b"never", ttl=math.inf)
        time.sleep(0.05)  # a ttl is a time: let it pass
        for want in (own, never):
            with self.q.recv(timeout=0) as msg:
                self.assertEqual(msg.id, want)
        self.assertEqual(self.q.stats().expired, 1)


if __name__ == "__main__":
    unittest.main()
