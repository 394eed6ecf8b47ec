"""Deduplication keys: a second send with a key inside the queue's window
stores nothing and returns the first message's id as a SendResult whose
.duplicate is True; send_many takes one key per message; bad keys and queues
without a window are refused before anything is sent; on a topic a duplicate
reaches no group."""
import asyncio
import datetime
import os
import pickle
import subprocess
import unittest

import support
import shmq


class Keys(support.QueueTest):
    create_args = {"slot_size": 256, "slot_count": 64, "dedup_window": 60}

    def test_a_repeated_key_returns_the_first_id_and_stores_nothing(self):
        first = self.q.send(b"order 42", dedup_key="order-42")
        again = self.q.send(b"order 42, retried", dedup_key="order-42")
        self.assertIsInstance(first, shmq.SendResult)
        self.assertEqual((first.duplicate, again.duplicate), (False, True))
        self.assertEqual(again, first)
        self.assertEqual(again.id, first)
        self.assertEqual(len(self.q), 1)
        with self.q.recv(timeout=0) as msg:
            self.assertEqual((msg.id, msg.data), (first, b"order 42"))

    def test_a_str_key_is_its_utf8_bytes(self):
        first = self.q.send(b"a", dedup_key="clé")
        self.assertTrue(self.q.send(b"a", dedup_key="clé".encode()).duplicate)
        self.assertTrue(self.q.send(b"a", dedup_key=bytearray("clé".encode())).duplicate)
        self.assertFalse(self.q.send(b"b", dedup_key="cle").duplicate)
        self.assertEqual(len(self.q), 2)
        self.assertNotEqual(first, 0)

    def test_a_send_without_a_key_returns_a_plain_int(self):
        self.assertIs(type(self.q.send(b"x")), int)
        self.assertIs(type(self.q.send(b"x", dedup_key=None)), int)

    def test_send_many_takes_one_key_per_message(self):
        self.q.send(b"old", dedup_key="b")
        ids = []
        self.assertEqual(self.q.send_many([b"1", b"2", b"3", b"4"], dedup_keys=["a", "b", None, "a"], ids=ids), 4)
        self.assertEqual([r.duplicate for r in ids], [False, True, False, True])
        self.assertEqual(ids[3], ids[0])
        self.assertIs(type(ids[2]), shmq.SendResult)  # no key: never a duplicate
        got = [m.data for m in self.q.recv_many(10, timeout=0)]
        self.assertEqual(got, [b"old", b"1", b"3"])

    def test_send_many_refuses_a_key_count_that_differs(self):
        with self.assertRaises(shmq.InvalidArgument) as cm:
            self.q.send_many([b"1", b"2"], dedup_keys=["a"])
        self.assertIn("1 keys for 2 messages", str(cm.exception))
        self.assertEqual(len(self.q), 0)

    def test_send_many_stops_where_a_key_iterator_runs_out(self):
        with self.assertRaises(shmq.InvalidArgument) as cm:
            self.q.send_many((m for m in [b"1", b"2", b"3"]), dedup_keys=iter(["a", "b"]))
        self.assertIn("fewer keys", str(cm.exception))
        self.assertEqual(len(self.q), 0)  # the batch was not sent

    def test_keys_of_1_to_128_bytes(self):
        self.q.send(b"x", dedup_key=b"k" * shmq.MAX_DEDUP_KEY)
        for bad in (b"", "", b"k" * (shmq.MAX_DEDUP_KEY + 1)):
            with self.assertRaises(shmq.InvalidArgument) as cm:
                self.q.send(b"x", dedup_key=bad)
            self.assertIn(f"1 .. {shmq.MAX_DEDUP_KEY} bytes, got {len(bad)}", str(cm.exception))
        with self.assertRaises(shmq.InvalidArgument):
            self.q.send_many([b"x"], dedup_keys=[b""])
        self.assertRaises(TypeError, self.q.send, b"x", dedup_key=7)
        self.assertEqual(len(self.q), 1)

    def test_send_async_passes_the_key(self):
        first = asyncio.run(self.q.send_async(b"a", dedup_key="k"))
        again = asyncio.run(self.q.send_async(b"a", dedup_key="k"))
        self.assertEqual((first.duplicate, again.duplicate, again), (False, True, first))

    def test_a_send_result_pickles_and_prints(self):
        r = self.q.send(b"a", dedup_key="k")
        back = pickle.loads(pickle.dumps(self.q.send(b"a", dedup_key="k")))
        self.assertEqual((back, back.duplicate), (r, True))
        self.assertEqual(repr(back), f"SendResult(id={int(r)}, duplicate=True)")

    def test_params_show_the_window(self):
        self.assertEqual(self.q.params.dedup_window, 60)
        self.assertGreaterEqual(self.q.params.dedup_capacity, 2 * 64)

    def test_a_window_may_be_a_timedelta_and_at_most_7_days(self):
        name = support.unique_name("td")
        with shmq.Queue.create(name, dedup_window=datetime.timedelta(minutes=5)) as q:
            self.assertEqual(q.params.dedup_window, 300)
        shmq.unlink(name)
        with self.assertRaises(shmq.InvalidArgument):
            shmq.Queue.create(name, dedup_window=datetime.timedelta(days=7, seconds=1))
        self.assertFalse(os.path.exists(support.segment_path(name)))

    def test_a_capacity_without_a_window_and_a_spill_queue_of_one_slot_are_refused(self):
        name = support.unique_name("combo")
        for kwargs, words in (({"dedup_capacity": 64}, "dedup_capacity needs a dedup_window"),
                              ({"overflow": "spill", "slot_count": 1}, "needs slot_count 2"),
                              ({"overflow": "spill", "slot_count": 1, "max_groups": 2}, "needs slot_count 2")):
            with self.assertRaises(shmq.InvalidArgument) as cm:
                shmq.Queue.create(name, **kwargs)
            self.assertIn(words, str(cm.exception))
            self.assertFalse(os.path.exists(support.segment_path(name)))
        with shmq.Queue.create(name, overflow="spill", slot_count=2) as q:  # the least that works
            self.assertEqual(q.params.slot_count, 2)
        shmq.unlink(name)


class TwoProcesses(support.QueueTest):
    create_args = {"slot_size": 16, "slot_count": 32768, "dedup_window": 60, "dedup_capacity": 32768}

    def test_two_senders_of_the_same_keys_store_each_once(self):
        """Both send k0, k1, ... in step, so one often finds the other's key in
        flight: it waits for it (a send with timeout None never times out)."""
        n = 20000
        kids = [support.child("send-keys", self.name, str(n), stdin=subprocess.PIPE) for _ in range(2)]
        self.addCleanup(lambda: [k.kill() or k.wait() for k in kids])
        self.assertEqual([support.read_line(k) for k in kids], ["ready", "ready"])
        for kid in kids:
            kid.stdin.write("go\n")
            kid.stdin.flush()
        dups = [int(support.read_line(k, timeout=120)) for k in kids]
        self.assertEqual([k.wait(timeout=60) for k in kids], [0, 0])
        self.assertEqual((sum(dups), len(self.q)), (n, n))


class ShortWindow(support.QueueTest):
    create_args = {"slot_size": 64, "slot_count": 16, "dedup_window": 0.05}

    def test_after_the_window_the_key_stores_a_new_message(self):
        first = self.q.send(b"a", dedup_key="k")
        # A window is a time: poll (a duplicate stores nothing) until it passed.
        support.wait_until(lambda: not self.q.send(b"b", dedup_key="k").duplicate, what="window end")
        self.assertEqual(len(self.q), 2)
        self.assertEqual(self.q.recv(timeout=0).id, first)


class FullTable(support.QueueTest):
    create_args = {"slot_size": 64, "slot_count": 64, "dedup_window": 60, "dedup_capacity": 4}

    def test_a_full_table_raises_and_sends_nothing(self):
        cap = self.q.params.dedup_capacity
        for i in range(cap):
            self.q.send(b"x", dedup_key=f"k{i}")
        with self.assertRaises(shmq.DedupTableFull) as cm:
            self.q.send(b"x", dedup_key="one more")
        self.assertIn(f"queue '{self.name}'", str(cm.exception))
        self.assertEqual(len(self.q), cap)
        self.assertTrue(self.q.send(b"x", dedup_key="k0").duplicate)  # known keys still answer


class NoWindow(support.QueueTest):
    def test_a_queue_without_a_window_refuses_keys(self):
        with self.assertRaises(shmq.InvalidArgument) as cm:
            self.q.send(b"x", dedup_key="k")
        self.assertIn("dedup_window", str(cm.exception))
        with self.assertRaises(shmq.InvalidArgument):
            self.q.send_many([b"x"], dedup_keys=["k"])
        self.assertEqual(len(self.q), 0)
        self.assertIsNone(self.q.params.dedup_window)

    def test_a_topic_deduplicates_for_every_group(self):
        name = support.unique_name("topic")
        with shmq.Queue.create(name, max_groups=2, dedup_window=60) as t:
            t.add_group("a")
            t.add_group("b")
            first = t.send(b"x", dedup_key="k")
            again = t.send(b"y", dedup_key="k")
            self.assertFalse(first.duplicate)
            self.assertTrue(again.duplicate)
            self.assertEqual(again, first)
            for g in ("a", "b"):
                with shmq.Queue.open_group(name, g) as h:
                    with h.recv(timeout=0) as m:
                        self.assertEqual((m.data, m.id), (b"x", first))
                    with self.assertRaises(shmq.Empty):  # the duplicate reached no group
                        h.recv(timeout=0)
        shmq.unlink(name)

    def test_a_topic_without_a_window_refuses_keys(self):
        name = support.unique_name("topic")
        with shmq.Queue.create(name, max_groups=2) as t:
            t.add_group("g")
            with self.assertRaises(shmq.InvalidArgument) as cm:
                t.send(b"x", dedup_key="k")
            self.assertIn("no deduplication window", str(cm.exception))
        shmq.unlink(name)

if __name__ == "__main__":
    unittest.main()
