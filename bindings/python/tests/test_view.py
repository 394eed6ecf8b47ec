"""Zero-copy payload views: they point into the segment, are read-only, are
released when the message is finished, and keep the mapping alive (close is
deferred) while any buffer derived from them exists."""
import gc
import mmap
import unittest

import support
import shmq


class ZeroCopy(support.QueueTest):
    def test_view_points_into_shared_memory(self):
        self.q.send(b"zero-copy payload")
        msg = self.q.recv(timeout=1, copy=False)
        view = msg.view()
        self.assertEqual(bytes(view), b"zero-copy payload")
        # No copy was made: a change written through another mapping of the
        # segment file shows through the view.
        with open(support.segment_path(self.name), "r+b") as f, mmap.mmap(f.fileno(), 0) as seg:
            at = seg.find(b"zero-copy payload")
            seg[at:at + 4] = b"ZERO"
        self.assertEqual(bytes(view), b"ZERO-copy payload")
        self.assertIs(view.obj, msg)
        self.assertTrue(view.readonly)
        self.assertEqual((view.format, view[0]), ("B", ord("Z")))
        with self.assertRaises(TypeError):
            view[0] = 1
        msg.ack()

    def test_a_view_keeps_its_dropped_message_leased(self):
        # q.recv().view(): nobody holds the Message, the view does.
        self.q.send(b"kept by its view")
        view = self.q.recv(timeout=1).view()
        gc.collect()
        self.assertEqual(bytes(view), b"kept by its view")
        self.assertEqual(self.q.stats().leased, 1)
        msg = view.obj
        del view
        msg.ack()
        self.assertEqual((self.q.stats().leased, self.q.stats().acked), (0, 1))

    def test_finishing_releases_the_view(self):
        self.q.send(b"abc")
        msg = self.q.recv(timeout=1)
        view = msg.view()
        msg.ack()
        with self.assertRaises(ValueError):
            bytes(view)
        with self.assertRaises(shmq.InvalidArgument):
            msg.view()

    def test_uncopied_data_is_readable_only_while_leased(self):
        self.q.send_many([b"one", b"two"])
        first = self.q.recv(timeout=1, copy=False)
        self.assertEqual(first.data, b"one")  # copied now, kept afterwards
        first.ack()
        self.assertEqual(first.data, b"one")
        second = self.q.recv(timeout=1, copy=False)
        second.ack()
        with self.assertRaises(shmq.InvalidArgument):
            second.data

    def test_derived_buffers_defer_close(self):
        self.q.send(b"keep me mapped")
        msg = self.q.recv(timeout=1)
        derived = msg.view()[5:7]
        msg.ack()
        with shmq.Queue(self.name) as watcher:
            self.assertEqual(len(watcher.stats().clients), 2)
            self.q.close()
            self.assertEqual(bytes(derived), b"me")  # still mapped: no crash
            self.assertEqual(len(watcher.stats().clients), 2)
            del derived
            gc.collect()
            self.assertEqual(len(watcher.stats().clients), 1)


if __name__ == "__main__":
    unittest.main()
