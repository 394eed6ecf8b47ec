"""Every shmq_error code maps to its own shmq.Error subclass, and each one
that a program can run into is reached here through the real library."""
import errno
import os
import struct
import unittest

import support
import shmq
from shmq.errors import error_for

EXPECTED = {
    1: shmq.Full, 2: shmq.Timeout, 3: shmq.Empty, 4: shmq.LeaseLost, 5: shmq.Closed,
    6: shmq.InvalidArgument, 7: shmq.BadName, 8: shmq.TooBig, 9: shmq.NotFound, 10: shmq.Exists,
    11: shmq.VersionMismatch, 12: shmq.Corrupt, 13: shmq.PermissionDenied, 14: shmq.NoSpace,
    15: shmq.TooManyClients, 16: shmq.PrefetchLimit, 17: shmq.Interrupted, 18: shmq.OSFailure,
    19: shmq.OutOfRange, 20: shmq.Busy, 21: shmq.DedupTableFull,
}


def closed_queue(**params):
    """A queue that exists but has no handle open."""
    name = support.unique_name("closed")
    shmq.Queue.create(name, slot_count=4, **params).close()
    return name


def poke(name, offset, fmt, value):
    with open(support.segment_path(name), "r+b") as f:
        f.seek(offset)
        f.write(struct.pack(fmt, value))


class Mapping(unittest.TestCase):
    def test_each_code_has_its_class_and_description(self):
        for code, cls in EXPECTED.items():
            err = error_for(code)
            self.assertIs(type(err), cls)
            self.assertIsInstance(err, shmq.Error)
            self.assertEqual(err.code, code)
            self.assertNotIn("unknown", str(err))

    def test_unknown_codes_are_plain_errors(self):
        err = error_for(99)
        self.assertIs(type(err), shmq.Error)
        self.assertEqual(err.code, 99)

    def test_builtin_bases(self):
        self.assertTrue(issubclass(shmq.Timeout, TimeoutError))
        self.assertTrue(issubclass(shmq.InvalidArgument, ValueError))


class Reached(unittest.TestCase):
    def test_full(self):
        with shmq.Queue.create(support.unique_name(), slot_count=1, overflow="fail") as q:
            q.send(b"1")
            with self.assertRaises(shmq.Full):
                q.send(b"2")
            shmq.unlink(q.name)

    def test_full_reports_partial_batches(self):
        with shmq.Queue.create(support.unique_name(), slot_count=4, overflow="fail") as q:
            with self.assertRaises(shmq.Full) as caught:
                q.send_many([b"x"] * 6)
            self.assertEqual(caught.exception.sent, 4)
            shmq.unlink(q.name)

    def test_timeout_and_empty(self):
        with shmq.Queue.create(support.unique_name(), slot_count=4) as q:
            self.assertRaises(shmq.Empty, q.recv, 0)
            self.assertRaises(shmq.Timeout, q.recv, 0.01)
            shmq.unlink(q.name)

    def test_lease_lost(self):
        with shmq.Queue.create(support.unique_name(), slot_count=4, lease=0.02,
                               backoff_base=0) as q:
            q.send(b"x")
            msg = q.recv(timeout=1)

            def reclaimed():
                q.recover()
                return q.stats().leased == 0
            support.wait_until(reclaimed, what="the expired lease to be reclaimed")
            with self.assertRaises(shmq.LeaseLost):
                msg.ack()
            self.assertTrue(msg.finished)
            shmq.unlink(q.name)

    def test_closed_after_unlink(self):
        with shmq.Queue.create(support.unique_name(), slot_count=4) as q:
            shmq.unlink(q.name)
            self.assertRaises(shmq.Closed, q.send, b"x")
            self.assertRaises(shmq.Closed, q.recv, None)

    def test_invalid_argument(self):
        self.assertRaises(shmq.InvalidArgument, shmq.Queue.create, support.unique_name(),
                          slot_size=0)
        self.assertRaises(shmq.InvalidArgument, shmq.Queue.create, support.unique_name(),
                          mode=0o666)
        self.assertRaises(shmq.InvalidArgument, shmq.Queue.create, support.unique_name(),
                          jitter="sometimes")

    def test_bad_name(self):
        for name in ("", "a/b", "..", "x" * 65, "sp ace"):
            self.assertRaises(shmq.BadName, shmq.Queue, name)

    def test_too_big(self):
        with shmq.Queue.create(support.unique_name(), slot_size=8, slot_count=4) as q:
            self.assertRaises(shmq.TooBig, q.send, b"123456789")
            shmq.unlink(q.name)

    def test_not_found_and_exists(self):
        name = support.unique_name()
        self.assertRaises(shmq.NotFound, shmq.Queue, name)
        self.assertRaises(shmq.NotFound, shmq.unlink, name)
        with shmq.Queue.create(name, slot_count=4):
            self.assertRaises(shmq.Exists, shmq.Queue.create, name)
        shmq.unlink(name)

    def test_version_mismatch(self):
        name = closed_queue()
        poke(name, 8, "<I", 999)  # Header::layout_version
        self.assertRaises(shmq.VersionMismatch, shmq.Queue, name)
        shmq.unlink(name)

    def test_corrupt(self):
        name = closed_queue()
        poke(name, 0, "<Q", 0xDEADBEEF)  # Header::magic
        self.assertRaises(shmq.Corrupt, shmq.Queue, name)
        shmq.unlink(name)

    def test_permission_denied(self):
        name = closed_queue()
        link = support.unique_name("link")
        os.symlink(support.segment_path(name), support.segment_path(link))
        self.assertRaises(shmq.PermissionDenied, shmq.Queue, link)  # O_NOFOLLOW
        os.unlink(support.segment_path(link))
        os.chmod(support.segment_path(name), 0o666)
        self.assertRaises(shmq.PermissionDenied, shmq.Queue, name)  # world-writable
        shmq.unlink(name)

    def test_no_space(self):
        self.assertRaises(shmq.NoSpace, shmq.Queue.create, support.unique_name(),
                          slot_size=1 << 30, slot_count=1 << 24)

    def test_too_many_clients(self):
        with shmq.Queue.create(support.unique_name(), slot_count=4, max_clients=2) as q:
            with shmq.Queue(q.name):
                self.assertRaises(shmq.TooManyClients, shmq.Queue, q.name)
            shmq.unlink(q.name)

    def test_prefetch_limit(self):
        with shmq.Queue.create(support.unique_name(), slot_count=4, prefetch=1) as q:
            q.send_many([b"1", b"2"])
            held = q.recv(timeout=1)
            self.assertRaises(shmq.PrefetchLimit, q.recv, 1)
            held.ack()
            q.recv(timeout=1).ack()
            shmq.unlink(q.name)

    def test_os_failure_carries_errno(self):
        not_a_dir = os.path.join(support.SHMQ_DIR, "plain-file")
        open(not_a_dir, "w").close()
        os.environ["SHMQ_DIR"] = not_a_dir
        try:
            with self.assertRaises(shmq.OSFailure) as caught:
                shmq.Queue(support.unique_name())
        finally:
            os.environ["SHMQ_DIR"] = support.SHMQ_DIR
        self.assertEqual(caught.exception.errno, errno.ENOTDIR)
        self.assertIn(os.strerror(errno.ENOTDIR), str(caught.exception))


if __name__ == "__main__":
    unittest.main()
