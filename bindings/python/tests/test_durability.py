"""Durability from Python: Queue.create(durability="disk"), sync() and
flush(); after a (simulated) reboot a disk queue is rebuilt with every
message, and a memory queue's segment of another boot is refused as Rebooted.
A reboot is simulated with SHMQ_BOOT_ID, the library's override of the
kernel's boot id (docs/durability.md)."""
import os
import struct
import unittest

import support
import shmq


class Booted:
    """SHMQ_BOOT_ID set to a new boot's id while inside."""

    def __enter__(self):
        os.environ["SHMQ_BOOT_ID"] = "0123456789abcdef0123456789abcdef"

    def __exit__(self, *exc):
        del os.environ["SHMQ_BOOT_ID"]


class Disk(support.QueueTest):
    create_args = {"slot_size": 256, "slot_count": 64, "durability": "disk"}

    def test_the_params_say_disk_and_sync_confirms_what_was_sent(self):
        self.assertEqual(self.q.params.durability, "disk")
        ids = [self.q.send(b"order %d" % i) for i in range(3)]
        self.assertIsNone(self.q.sync(timeout=5))
        self.assertIsNone(self.q.sync())  # forever: returns as soon as a flush ends
        self.assertIsNone(self.q.flush())
        with self.q.recv(timeout=0) as msg:
            self.assertEqual(msg.id, ids[0])

    def test_stats_show_the_mode_the_flushes_and_the_durable_lag(self):
        s = self.q.stats()
        self.assertEqual(s.durability, "disk")
        self.assertEqual((s.flushes, s.durable_lag, s.flush_error), (0, 0, 0))
        self.assertIsNone(s.last_flush)
        self.q.send(b"a")
        self.q.send(b"b")
        self.assertEqual(self.q.stats().durable_lag, 2)
        self.assertIsNone(self.q.sync(timeout=0))  # nobody else flushing: flushes at once
        s = self.q.stats()
        self.assertEqual((s.flushes, s.durable_lag), (1, 0))
        self.assertIsNotNone(s.last_flush)
        self.assertGreaterEqual(s.last_flush_duration, 0.0)
        self.assertEqual(s.quarantined, 0)

    def test_after_a_reboot_every_message_is_back_with_its_id(self):
        ids = [self.q.send(b"order %d" % i) for i in range(3)]
        leased = self.q.recv(timeout=0)  # leased at the "crash": back as ready, its delivery counted
        self.assertEqual(leased.id, ids[0])
        self.q.sync(timeout=5)
        with Booted():
            again = shmq.Queue(self.name)
            got = []
            for _ in range(3):
                with again.recv(timeout=0) as m:
                    got.append((m.id, m.data, m.attempt))
                    m.ack()
            again.close()
        with self.assertRaises(shmq.LeaseLost):  # the rebuild ended the old boot's lease
            leased.ack()
        self.assertEqual(got, [(ids[0], b"order 0", 2), (ids[1], b"order 1", 1), (ids[2], b"order 2", 1)])


# Header::flush_started (lib/src/layout.hpp, layout 8). Raising it above
# flush_done is what a flusher killed mid-flush leaves behind.
FLUSH_STARTED = 960


def stall_flushes(name):
    """Make the queue look as if a flusher died mid-flush: a sync waits for
    that flush (up to 200 ms) before it flushes itself."""
    with open(support.segment_path(name), "r+b") as f:
        f.seek(FLUSH_STARTED)
        f.write(struct.pack("<Q", 1000))  # above any flush_done a test reaches


class SendSync(support.QueueTest):
    create_args = {"slot_size": 256, "slot_count": 64, "durability": "disk"}

    def test_send_sync_returns_the_id_of_a_message_on_disk(self):
        i = self.q.send(b"order", timeout=5, sync=True)
        self.assertIsInstance(i, int)
        with self.q.recv(timeout=0) as msg:
            self.assertEqual((msg.id, msg.data), (i, b"order"))

    def test_a_sync_that_times_out_says_the_message_is_queued_with_its_id(self):
        stall_flushes(self.name)
        with self.assertRaises(shmq.Timeout) as cm:
            self.q.send(b"order", timeout=0.05, sync=True)
        self.assertIn("queued, but not confirmed on disk", str(cm.exception))
        with self.q.recv(timeout=0) as msg:  # it was stored all the same
            self.assertEqual((msg.id, msg.data), (cm.exception.id, b"order"))

    def test_sync_needs_a_timeout_to_wait_in(self):
        with self.assertRaises(shmq.InvalidArgument):
            self.q.send(b"x", timeout=0, sync=True)
        self.assertEqual(self.q.stats().ready, 0)  # nothing sent


class Memory(support.QueueTest):
    def test_send_sync_on_a_memory_queue_is_a_plain_send(self):
        i = self.q.send(b"x", sync=True)
        with self.q.recv(timeout=0) as msg:
            self.assertEqual(msg.id, i)

    def test_sync_and_flush_return_at_once_and_the_params_say_memory(self):
        self.assertEqual(self.q.params.durability, "memory")
        self.q.send(b"x")
        self.assertEqual((self.q.stats().durability, self.q.stats().durable_lag), ("memory", 0))
        self.assertIsNone(self.q.sync(timeout=0))
        self.assertIsNone(self.q.flush())

    def test_a_memory_segment_of_another_boot_is_refused(self):
        with Booted():
            with self.assertRaises(shmq.Rebooted) as cm:
                shmq.Queue(self.name)
        self.assertEqual(cm.exception.code, 23)

    def test_bad_arguments(self):
        with self.assertRaises(shmq.InvalidArgument):
            shmq.Queue.create(support.unique_name("bad"), durability="forever")
        with self.assertRaises(shmq.InvalidArgument):
            shmq.Queue.create(support.unique_name("bad"), durability="disk", max_groups=2)
        with self.assertRaises(shmq.InvalidArgument):
            self.q.sync(timeout=-1)


if __name__ == "__main__":
    unittest.main()
