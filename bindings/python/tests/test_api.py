"""The API users expect: batches (recv_many, ack_many), sizes (len, qsize,
empty), the standard exception bases, error messages that name the queue and
the sizes, names refused before any C call, Queues handed to multiprocessing
children (fork and spawn), `async for` and an async send that leaves the
event loop running while the queue is full."""
import asyncio
import multiprocessing
import pickle
import queue
import time
import unittest

import support
import shmq


def child_send(q, payload):
    """In a multiprocessing child: send through the Queue the parent passed."""
    q.send(payload)
    q.close()


class Version(unittest.TestCase):
    def test_the_loaded_library_is_the_packages_version(self):
        self.assertEqual(shmq.library_version(), shmq.__version__)


class Batches(support.QueueTest):
    def test_recv_many_leases_up_to_n_and_ack_many_acks_them(self):
        self.q.send_many([b"%d" % i for i in range(10)])
        msgs = self.q.recv_many(4, timeout=1)
        self.assertEqual([m.data for m in msgs], [b"0", b"1", b"2", b"3"])
        self.assertEqual(self.q.stats().leased, 4)
        self.q.ack_many(msgs)
        self.assertTrue(all(m.finished for m in msgs))
        rest = self.q.recv_many(100, timeout=0)
        self.assertEqual(len(rest), 6)
        self.q.ack_many(rest)
        s = self.q.stats()
        self.assertEqual((s.acked, s.leased, s.ready), (10, 0, 0))

    def test_recv_many_waits_for_the_first_only_and_raises_like_recv(self):
        self.assertRaises(shmq.Empty, self.q.recv_many, 8, 0)
        self.assertRaises(shmq.Timeout, self.q.recv_many, 8, 0.05)
        self.assertRaises(shmq.InvalidArgument, self.q.recv_many, 0)

    def test_ack_many_tries_all_and_raises_the_first_failure(self):
        self.q.send_many([b"a", b"b", b"c"])
        msgs = self.q.recv_many(3, timeout=1)
        msgs[1].ack()
        with self.assertRaises(shmq.InvalidArgument):
            self.q.ack_many(msgs)  # msgs[1] was already acked
        self.assertEqual(self.q.stats().acked, 3)
        self.assertRaises(TypeError, self.q.ack_many, [b"not a message"])

    def test_ack_many_takes_another_queues_messages_and_refuses_a_repeat(self):
        other = shmq.Queue.create(support.unique_name("other"))
        self.addCleanup(shmq.unlink, other.name)
        self.addCleanup(other.close)
        self.q.send_many([b"a", b"b"])
        other.send(b"c")
        mine, theirs = self.q.recv_many(2, timeout=1), other.recv_many(1, timeout=1)
        with self.assertRaises(shmq.InvalidArgument):
            self.q.ack_many([mine[0], theirs[0], mine[1], mine[0]])  # mine[0] twice
        self.assertEqual((self.q.stats().acked, self.q.stats().leased), (2, 0))
        self.assertEqual((other.stats().acked, other.stats().leased), (1, 0))
        self.assertTrue(all(m.finished for m in mine + theirs))


class WaitOption(unittest.TestCase):
    """wait= chooses shmq_options.wait: "adaptive" (the default) or "spin"."""

    def _create(self, **kw):
        q = shmq.Queue.create(support.unique_name("wait"), **kw)
        self.addCleanup(shmq.unlink, q.name)
        self.addCleanup(q.close)
        return q

    def _cpu_while_waiting(self, q, seconds):
        t0 = time.process_time()
        self.assertRaises(shmq.Timeout, q.recv, seconds)
        return time.process_time() - t0

    def test_spin_spins_and_spin_ns_0_sleeps(self):
        # A spinning wait shows as CPU time; how much depends on the machine's
        # load (35 ms of 1 s at load 11 on 2 CPUs), a sleeping one's is ~1 ms.
        spinning = self._create(wait="spin", spin_ns=1_000_000_000)
        sleeping = self._create(wait="spin", spin_ns=0)
        spun, slept = self._cpu_while_waiting(spinning, 1.0), self._cpu_while_waiting(sleeping, 1.0)
        self.assertGreater(spun, 0.005)
        self.assertGreater(spun, 5 * slept)

    def test_open_takes_it_and_a_pickled_queue_keeps_it(self):
        q = self._create(wait="spin")
        opened = shmq.Queue(q.name, wait="spin", spin_ns=1000)
        self.addCleanup(opened.close)
        self.assertEqual(opened.__reduce__()[1], (q.name, 64, 1000, "spin"))
        copy = pickle.loads(pickle.dumps(opened))
        self.addCleanup(copy.close)
        self.assertEqual(copy.__reduce__()[1], (q.name, 64, 1000, "spin"))

    def test_a_bad_value_is_refused_naming_the_choices(self):
        with self.assertRaisesRegex(shmq.InvalidArgument, "wait must be one of adaptive, spin"):
            self._create(wait="busy")
        with self.assertRaises(shmq.InvalidArgument):
            shmq.Queue(support.unique_name("never"), wait=1)


class Sizes(support.QueueTest):
    def test_len_qsize_and_empty_count_ready_messages(self):
        self.assertTrue(self.q.empty())
        self.assertEqual((len(self.q), self.q.qsize()), (0, 0))
        self.assertTrue(self.q)  # a Queue stays truthy when empty
        self.q.send_many([b"1", b"2", b"3"])
        self.assertEqual((len(self.q), self.q.qsize(), self.q.empty()), (3, 3, False))
        msg = self.q.recv(timeout=1)
        self.assertEqual(len(self.q), 2)  # a leased message is not ready
        msg.ack()


class Errors(support.QueueTest):
    create_args = {"slot_size": 4096, "slot_count": 2, "overflow": "fail", "prefetch": 1}

    def test_standard_bases(self):
        self.assertTrue(issubclass(shmq.Empty, queue.Empty))
        self.assertTrue(issubclass(shmq.Full, queue.Full))
        self.assertTrue(issubclass(shmq.BadName, ValueError))
        with self.assertRaises(queue.Empty):
            self.q.recv(timeout=0)

    def test_messages_name_the_queue_and_sizes(self):
        with self.assertRaises(shmq.TooBig) as caught:
            self.q.send(b"x" * 5000)
        self.assertEqual(str(caught.exception), "message of 5000 bytes larger than slot size "
                         f"4096 of queue '{self.name}'")
        self.q.send_many([b"1", b"2"])
        with self.assertRaises(shmq.Full) as caught:
            self.q.send(b"3")
        self.assertIn(f"'{self.name}'", str(caught.exception))
        held = self.q.recv(timeout=1)
        with self.assertRaises(shmq.PrefetchLimit) as caught:
            self.q.recv(timeout=1)
        self.assertIn("prefetch limit of 1", str(caught.exception))
        held.ack()
        with self.assertRaises(shmq.InvalidArgument) as caught:
            held.ack()
        self.assertIn(f"message {held.id}", str(caught.exception))

    def test_bad_names_are_refused_before_any_c_call(self):
        for name in ("orders\0evil", "a\0", "\0"):
            with self.assertRaises(shmq.BadName) as caught:
                shmq.Queue(name)
            self.assertIn(repr(name), str(caught.exception))
            self.assertRaises(shmq.BadName, shmq.Queue.create, name)
            self.assertRaises(shmq.BadName, shmq.unlink, name)
        self.assertRaises(TypeError, shmq.Queue, b"bytes-name")


class Processes(support.QueueTest):
    def _through_child(self, method):
        ctx = multiprocessing.get_context(method)
        p = ctx.Process(target=child_send, args=(self.q, b"from a " + method.encode() + b" child"))
        p.start()
        p.join(60)
        self.assertEqual(p.exitcode, 0)
        msg = self.q.recv(timeout=10)
        self.assertEqual(msg.data, b"from a " + method.encode() + b" child")
        msg.ack()
        # The child detached its own record, never the parent's.
        support.wait_until(lambda: len(self.q.stats().clients) == 1, what="the child to detach")
        self.q.send(b"parent still works")
        self.q.recv(timeout=1).ack()

    def test_fork_child_reopens_by_name(self):
        self._through_child("fork")

    def test_spawn_child_reopens_by_name(self):
        self._through_child("spawn")

    def test_pickle_reopens_by_name(self):
        copy = pickle.loads(pickle.dumps(self.q))
        self.addCleanup(copy.close)
        self.assertEqual(copy.name, self.name)
        self.assertEqual(len(self.q.stats().clients), 2)

    def test_forked_child_leaves_the_parents_leases_alone(self):
        self.q.send(b"leased by the parent")
        msg = self.q.recv(timeout=1)
        ctx = multiprocessing.get_context("fork")
        p = ctx.Process(target=_finish_inherited, args=(msg,))
        p.start()
        p.join(60)
        self.assertEqual(p.exitcode, 0)
        self.assertEqual(self.q.stats().leased, 1)
        msg.ack()


def _finish_inherited(msg):
    try:
        msg.ack()
    except shmq.Closed:
        return  # refused: the lease is the parent's
    raise SystemExit(3)


class Async(support.QueueTest):
    create_args = {"slot_size": 64, "slot_count": 1, "backoff_base": 0}

    def test_async_for(self):
        self.q.send(b"one")

        async def main():
            async for msg in self.q:
                with msg:
                    return msg.data
        self.assertEqual(asyncio.run(main()), b"one")

    def test_send_async_on_a_full_queue_leaves_the_loop_running(self):
        self.q.send(b"fills the only slot")

        async def main():
            ticks = 0

            async def tick():
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0.001)
            ticker = asyncio.create_task(tick())
            sender = asyncio.create_task(self.q.send_async(b"second"))
            await asyncio.sleep(0.2)
            self.assertFalse(sender.done())
            self.assertGreater(ticks, 10)  # the loop ran while the send waited
            self.q.recv(timeout=1).ack()
            await asyncio.wait_for(sender, 10)
            ticker.cancel()
            msg = self.q.recv(timeout=1)
            self.assertEqual(msg.data, b"second")
            msg.ack()
            start = time.monotonic()
            self.q.send(b"full again")
            with self.assertRaises(shmq.Timeout):
                await self.q.send_async(b"x", timeout=0.05)
            self.assertGreaterEqual(time.monotonic() - start, 0.05)
        asyncio.run(main())


if __name__ == "__main__":
    unittest.main()
