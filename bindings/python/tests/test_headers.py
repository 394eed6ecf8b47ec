"""headers= on send and send_many travel with each message and come back as
msg.headers (a dict of str, copied at receive), through a nack and after the
ack; bad headers raise before anything is sent."""
import asyncio
import unittest

import support
import shmq

TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class Headers(support.QueueTest):
    def test_headers_come_back_through_a_nack_and_after_the_ack(self):
        sent = {"traceparent": TRACE, "tenant": "café €", "empty": ""}
        self.q.send(b"one", headers=sent)
        msg = self.q.recv(timeout=1)
        self.assertEqual(msg.headers, sent)
        self.assertEqual(msg.data, b"one")
        msg.nack(0)
        msg = self.q.recv(timeout=5)
        self.assertEqual(msg.attempt, 2)
        self.assertEqual(msg.headers, sent)
        msg.ack()
        self.assertEqual(msg.headers, sent)  # a copy taken at receive
        msg.headers["x"] = "y"  # and each read is a fresh dict
        self.assertEqual(msg.headers, sent)

    def test_send_many_and_send_async_carry_headers_and_plain_sends_none(self):
        self.assertEqual(self.q.send_many([b"a", b"b"], headers={"k": "v"}), 2)
        asyncio.run(self.q.send_async(b"c", headers={"k": "async"}))
        self.q.send(b"bare")
        got = []
        for _ in range(4):
            with self.q.recv(timeout=1) as msg:
                got.append((msg.data, msg.headers))
        self.assertEqual(got, [(b"a", {"k": "v"}), (b"b", {"k": "v"}), (b"c", {"k": "async"}), (b"bare", {})])

    def test_zero_copy_receive_has_headers_too(self):
        self.q.send(b"zc", headers={"k": "v"})
        with self.q.recv(timeout=1, copy=False) as msg:
            self.assertEqual(msg.headers, {"k": "v"})

    def test_bad_headers_raise_and_send_nothing(self):
        cases = [
            ({"": "v"}, shmq.InvalidArgument),
            ({"a b": "v"}, shmq.InvalidArgument),
            ({"k=": "v"}, shmq.InvalidArgument),
            ({"clé": "v"}, shmq.InvalidArgument),
            ({"k\0": "v"}, shmq.InvalidArgument),
            ({"k": "v\0"}, shmq.InvalidArgument),
            ({"k" * 256: "v"}, shmq.InvalidArgument),
            ({"k%d" % i: "" for i in range(65)}, shmq.InvalidArgument),
            ({"k": "v" * 5000}, shmq.TooBig),
            ({"k": "\ud800"}, UnicodeEncodeError),  # a lone surrogate has no UTF-8
            ({"k": b"v"}, TypeError),
            ({1: "v"}, TypeError),
        ]
        for headers, error in cases:
            with self.subTest(headers=repr(headers)[:40]):
                self.assertRaises(error, self.q.send, b"x", headers=headers)
                self.assertRaises(error, self.q.send_many, [b"x"], headers=headers)
        self.assertRaises(TypeError, self.q.send, b"x", headers=5)
        self.assertEqual(self.q.qsize(), 0)

    def test_headers_count_against_the_slot(self):
        size = self.q.params.slot_size
        hdr = {"k": "0123456789"}  # 14 bytes encoded
        self.assertRaises(shmq.TooBig, self.q.send, b"x" * (size - 13), headers=hdr)
        self.q.send(b"x" * (size - 14), headers=hdr)
        with self.q.recv(timeout=1) as msg:
            self.assertEqual((len(msg.data), msg.headers), (size - 14, hdr))


if __name__ == "__main__":
    unittest.main()
