"""Topics and consumer groups: Queue.create(max_groups=N), add_group,
Queue.open_group; one publish reaching every group, per-group nacks, the
errors, and group handles passed to multiprocessing children (fork, spawn)."""
import asyncio
import multiprocessing
import os
import pickle
import unittest

import support
import shmq


def consume_group(g, n, out):
    """In a multiprocessing child: receive and ack n messages of the group
    handle the parent passed; put what came on ``out``."""
    got = []
    for _ in range(n):
        with g.recv(timeout=30) as msg:
            got.append(msg.data)
    out.put(got)
    g.close()


class TopicTest(unittest.TestCase):
    """A fresh topic ``self.t`` (``self.name``) with room for 3 groups."""

    def setUp(self):
        self.name = support.unique_name("topic")
        self.t = shmq.Queue.create(self.name, slot_size=256, slot_count=64, backoff_base=0,
                                   max_groups=3)
        self.addCleanup(shmq.unlink, self.name)
        self.addCleanup(self.t.close)

    def group(self, name, **opts):
        g = shmq.Queue.open_group(self.name, name, **opts)
        self.addCleanup(g.close)
        return g


class FanOut(TopicTest):
    def test_params_say_topic_and_queue_is_zero(self):
        self.assertEqual(self.t.params.max_groups, 3)
        self.assertIsNone(self.t.group)
        q = shmq.Queue.create(self.name + ".q")
        self.addCleanup(shmq.unlink, self.name + ".q")
        self.addCleanup(q.close)
        self.assertEqual(q.params.max_groups, 0)

    def test_publish_once_every_group_gets_it_with_the_same_id(self):
        self.t.add_group("email")
        self.t.add_group("inventory")
        email, inv = self.group("email"), self.group("inventory")
        self.assertEqual((email.name, email.group), (self.name, "email"))
        self.assertEqual(email.params.max_groups, 3)
        sent = self.t.send(b"order-1")
        a, b = email.recv(timeout=5), inv.recv(timeout=5)
        self.assertEqual((a.data, b.data), (b"order-1", b"order-1"))
        self.assertEqual((a.id, b.id), (sent, sent))
        a.ack()
        b.ack()
        with self.assertRaises(shmq.Empty):
            email.recv(timeout=0)

    def test_a_nack_in_one_group_is_not_seen_by_the_other(self):
        self.t.add_group("email")
        self.t.add_group("inventory")
        email, inv = self.group("email"), self.group("inventory")
        self.t.send(b"order-1")
        inv.recv(timeout=5).ack()
        email.recv(timeout=5).nack(0)
        with self.assertRaises(shmq.Empty):
            inv.recv(timeout=0)
        again = email.recv(timeout=5)
        self.assertEqual((again.data, again.attempt), (b"order-1", 2))
        again.ack()

    def test_a_group_added_later_gets_only_what_is_sent_after(self):
        self.t.add_group("email")
        self.t.send(b"before")
        self.t.add_group("analytics")
        self.t.send(b"after")
        self.assertEqual([m.data for m in self.group("analytics").consume(timeout=0)], [b"after"])

    def test_groups_consumed_in_child_processes_fork_and_spawn(self):
        self.t.add_group("g1")
        self.t.add_group("g2")
        payloads = [str(i).encode() for i in range(50)]
        for method in ("fork", "spawn"):
            with self.subTest(method=method):
                ctx = multiprocessing.get_context(method)
                out = ctx.Queue()
                kids = [ctx.Process(target=consume_group, args=(self.group(g), 50, out))
                        for g in ("g1", "g2")]
                for p in kids:
                    p.start()
                self.t.send_many(payloads)
                results = [out.get(timeout=60) for _ in kids]
                for p in kids:
                    p.join(60)
                    self.assertEqual(p.exitcode, 0)
                self.assertEqual(results, [payloads, payloads])

    def test_recv_async_on_a_group_wakes_on_a_publish(self):
        self.t.add_group("email")
        g = self.group("email")

        async def main():
            waiting = asyncio.ensure_future(g.recv_async(timeout=30))
            await asyncio.sleep(0)  # let it start waiting (the test does not rely on it)
            self.t.send(b"late")
            return await waiting

        msg = asyncio.run(main())
        self.assertEqual(msg.data, b"late")
        msg.ack()

    def test_a_group_handle_pickles_to_the_same_group(self):
        self.t.add_group("email")
        g = pickle.loads(pickle.dumps(self.group("email", prefetch=2)))
        self.addCleanup(g.close)
        self.assertEqual((g.name, g.group), (self.name, "email"))
        self.t.send(b"x")
        g.recv(timeout=5).ack()


class Errors(TopicTest):
    def test_send_with_no_group_bound_raises_not_found_and_stores_nothing(self):
        with self.assertRaisesRegex(shmq.NotFound, f"no consumer group is bound to topic '{self.name}'"):
            self.t.send(b"lost?")
        self.t.add_group("late")
        with self.assertRaises(shmq.Empty):
            self.group("late").recv(timeout=0)

    def test_unknown_group_raises_not_found_naming_topic_and_group(self):
        with self.assertRaisesRegex(shmq.NotFound, f"no group 'nope' on topic '{self.name}'"):
            shmq.Queue.open_group(self.name, "nope")
        with self.assertRaises(shmq.NotFound):
            shmq.Queue.open_group(self.name + ".missing", "nope")

    def test_send_on_a_group_handle_and_recv_on_the_topic_raise(self):
        self.t.add_group("email")
        g = self.group("email")
        with self.assertRaisesRegex(shmq.InvalidArgument, "group 'email'"):
            g.send(b"x")
        with self.assertRaises(shmq.InvalidArgument):
            g.add_group("other")
        with self.assertRaisesRegex(shmq.InvalidArgument, "only publishes"):
            self.t.recv(timeout=0)

    def test_group_names_and_limits(self):
        with self.assertRaisesRegex(shmq.BadName, "bad group name"):
            self.t.add_group("../etc")
        with self.assertRaisesRegex(shmq.BadName, "bad group name"):
            shmq.Queue.open_group(self.name, "")
        for g in ("a", "b", "c"):
            self.t.add_group(g)
        with self.assertRaisesRegex(shmq.Exists, "group 'a' is already bound"):
            self.t.add_group("a")
        with self.assertRaisesRegex(shmq.Full, "its 3 lanes hold bound groups"):
            self.t.add_group("d")

    def test_a_queue_is_not_a_topic(self):
        name = self.name + ".q"
        q = shmq.Queue.create(name)
        self.addCleanup(shmq.unlink, name)
        self.addCleanup(q.close)
        with self.assertRaisesRegex(shmq.InvalidArgument, "is a queue, not a topic"):
            shmq.Queue.open_group(name, "a")
        with self.assertRaisesRegex(shmq.InvalidArgument, "created without max_groups"):
            q.add_group("a")

    def test_max_groups_out_of_range(self):
        for bad in (17, -1):
            with self.assertRaisesRegex(shmq.InvalidArgument, "max_groups must be 0"):
                shmq.Queue.create(self.name + ".bad", max_groups=bad)
        self.assertFalse(os.path.exists(support.segment_path(self.name + ".bad")))


if __name__ == "__main__":
    unittest.main()
