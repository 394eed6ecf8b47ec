"""Sending and receiving: round trips, batches, timeouts, finishing messages
(ack, nack, reject, extend, the with-block), consume(), params and stats."""
import datetime
import os
import time
import unittest

import support
import shmq


class RoundTrip(support.QueueTest):
    def test_bytes_like_objects_round_trip(self):
        sent = [b"hello", bytearray(b"array"), memoryview(b"xview")[1:], b"", b"\0bin\0"]
        for data in sent:
            self.q.send(data)
        ids = []
        for data in sent:
            msg = self.q.recv(timeout=1)
            self.assertEqual(msg.data, bytes(data))
            self.assertEqual(msg.attempt, 1)
            ids.append(msg.id)
            msg.ack()
        self.assertEqual(ids, sorted(set(ids)))

    def test_message_metadata(self):
        before = datetime.datetime.now(datetime.timezone.utc)
        self.q.send(b"x")
        msg = self.q.recv(timeout=1)
        self.assertEqual(msg.enqueued_at.tzinfo, datetime.timezone.utc)
        self.assertLess(abs((msg.enqueued_at - before).total_seconds()), 5)
        delta = msg.enqueued_at - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        self.assertEqual(delta // datetime.timedelta(microseconds=1), msg.enqueued_ns // 1000)
        self.assertEqual(msg.lease, self.q.params.lease)
        self.assertEqual(len(msg), 1)
        msg.ack()
        self.assertTrue(msg.finished)

    def test_send_many_crosses_batches_in_order(self):
        payloads = [str(i).encode() for i in range(600)]
        self.q2 = shmq.Queue.create(self.name + "b", slot_count=1024)
        self.addCleanup(shmq.unlink, self.name + "b")
        self.addCleanup(self.q2.close)
        self.assertEqual(self.q2.send_many(iter(payloads)), 600)
        got = []
        for msg in self.q2.consume(timeout=0):
            got.append(msg.data)
            msg.ack()
        self.assertEqual(got, payloads)

    def test_too_big_and_non_buffers(self):
        with self.assertRaises(shmq.TooBig):
            self.q.send(b"x" * 257)
        with self.assertRaises(TypeError):
            self.q.send("text is not bytes")


class Timeouts(support.QueueTest):
    def test_zero_timeout_is_empty_and_positive_is_timeout(self):
        with self.assertRaises(shmq.Empty):
            self.q.recv(timeout=0)
        start = time.monotonic()
        with self.assertRaises(shmq.Timeout):
            self.q.recv(timeout=0.05)
        self.assertGreaterEqual(time.monotonic() - start, 0.05)

    def test_timeout_is_a_builtin_timeout_error(self):
        with self.assertRaises(TimeoutError):
            self.q.recv(timeout=0.001)

    def test_waits_longer_than_one_slice(self):
        start = time.monotonic()
        with self.assertRaises(shmq.Timeout):
            self.q.recv(timeout=0.25)  # three 100 ms slices
        self.assertGreaterEqual(time.monotonic() - start, 0.25)

    def test_negative_timeout_is_refused(self):
        with self.assertRaises(shmq.InvalidArgument):
            self.q.recv(timeout=-1)


class Finishing(support.QueueTest):
    def test_with_block_acks_on_success(self):
        self.q.send(b"ok")
        with self.q.recv(timeout=1) as msg:
            self.assertEqual(msg.data, b"ok")
        self.assertTrue(msg.finished)
        self.assertEqual(self.q.stats().acked, 1)
        with self.assertRaises(shmq.Empty):
            self.q.recv(timeout=0)

    def test_with_block_nacks_on_error_and_reraises(self):
        self.q.send(b"boom")
        with self.assertRaises(KeyError):
            with self.q.recv(timeout=1):
                raise KeyError("handler failed")
        again = self.q.recv(timeout=5)  # backoff_base=0: ready again at once
        self.assertEqual((again.data, again.attempt), (b"boom", 2))
        again.ack()
        self.assertEqual(self.q.stats().nacked, 1)

    def test_with_block_leaves_explicitly_finished_messages_alone(self):
        self.q.send(b"x")
        with self.q.recv(timeout=1) as msg:
            msg.reject()
        self.assertEqual(self.q.stats().rejected, 1)

    def test_nack_with_delay_redelivers_later(self):
        self.q.send(b"later")
        first = self.q.recv(timeout=1)
        first.nack(delay=0.05)
        self.assertEqual(self.q.stats().delayed, 1)
        again = self.q.recv(timeout=5)
        self.assertEqual((again.id, again.attempt), (first.id, 2))
        again.ack()

    def test_reject_dead_letters(self):
        self.q.send(b"bad")
        self.q.recv(timeout=1).reject()
        stats = self.q.stats()
        self.assertEqual((stats.dead, stats.rejected), (1, 1))

    def test_second_finish_is_an_error(self):
        self.q.send(b"x")
        msg = self.q.recv(timeout=1)
        msg.ack()
        with self.assertRaises(shmq.InvalidArgument):
            msg.ack()
        with self.assertRaises(shmq.InvalidArgument):
            msg.nack()

    def test_a_dropped_message_is_nacked(self):
        self.q.send(b"forgotten")
        msg_id = self.q.recv(timeout=1).id  # the Message is dropped at once
        again = self.q.recv(timeout=5)
        self.assertEqual((again.id, again.attempt), (msg_id, 2))
        again.ack()

    def test_extend_keeps_the_lease(self):
        self.q.send(b"long job")
        msg = self.q.recv(timeout=1)
        msg.extend(60)
        self.assertEqual(msg.lease, 60)
        msg.ack()


class Consume(support.QueueTest):
    def test_consume_yields_until_the_timeout(self):
        for i in range(5):
            self.q.send(b"%d" % i)
        got = []
        for msg in self.q.consume(timeout=0.05):
            with msg:
                got.append(msg.data)
        self.assertEqual(got, [b"0", b"1", b"2", b"3", b"4"])


class Observing(support.QueueTest):
    create_args = {"slot_size": 128, "slot_count": 16, "max_clients": 8, "lease": 2.5,
                   "max_attempts": 3, "backoff_base": 0.01, "backoff_cap": 1,
                   "jitter": "equal", "overflow": "fail"}

    def test_params_round_trip(self):
        self.assertEqual(self.q.params, shmq.QueueParams(
            slot_size=128, slot_count=16, max_clients=8, lease=2.5, max_attempts=3,
            backoff_base=0.01, backoff_cap=1.0, jitter="equal", overflow="fail", mode=0o600))
        with shmq.Queue(self.name) as other:
            self.assertEqual(other.params, self.q.params)

    def test_stats_count_states_totals_and_clients(self):
        self.q.send_many([b"a", b"b", b"c"])
        held = self.q.recv(timeout=1)
        self.q.recv(timeout=1).ack()
        s = self.q.stats()
        self.assertEqual((s.slot_count, s.free, s.ready, s.leased), (16, 14, 1, 1))
        self.assertEqual((s.enqueued, s.delivered, s.acked), (3, 2, 1))
        self.assertGreater(s.oldest_ready_age, 0)
        self.assertIsNone(s.daemon_heartbeat_age)
        self.assertEqual(s.clients_max, 8)
        me = [c for c in s.clients if c.pid == os.getpid()]
        self.assertEqual(len(me), 1)
        self.assertEqual((me[0].sent, me[0].delivered, me[0].leased, me[0].alive), (3, 2, 1, True))
        self.assertEqual(me[0].role, shmq.ROLE_SENDER | shmq.ROLE_RECEIVER)
        held.ack()

    def test_recover_on_a_healthy_queue_does_nothing(self):
        self.assertEqual(self.q.recover(), shmq.Recovery(0, 0, 0, 0, 0, 0))


class Life(support.QueueTest):
    def test_close_is_idempotent_and_later_calls_raise_closed(self):
        self.q.send(b"x")
        msg = self.q.recv(timeout=1)
        self.q.close()
        self.q.close()
        self.assertTrue(self.q.closed)
        with self.assertRaises(shmq.Closed):
            self.q.send(b"y")
        with self.assertRaises(shmq.Closed):
            msg.ack()
        with shmq.Queue(self.name) as again:  # close gave the lease back
            self.assertEqual(again.recv(timeout=5).data, b"x")

    def test_context_manager_closes(self):
        with shmq.Queue(self.name) as q:
            q.send(b"x")
        self.assertTrue(q.closed)
        self.assertEqual(len(self.q.stats().clients), 1)


if __name__ == "__main__":
    unittest.main()
