"""A nacked message whose delay has passed is picked up by a non-blocking
receive and by recv_async, with no shmqd running (recv runs recovery).

Regression test for a libshmq bug: when shmq_recv(timeout 0) found nothing
at its first look and leased the due retry at its second (after client
recovery promoted it), it fell through into wait_for(0), returned
SHMQ_ETIMEDOUT and kept the lease (lib/src/recv.cpp, Queue::recv).
"""
import asyncio
import time
import unittest

import support
import shmq


class DueRetries(support.QueueTest):
    def _nacked_with_delay(self):
        self.q.send(b"retry me")
        first = self.q.recv(timeout=1)
        first.nack(delay=0.02)
        return first.id

    def test_polling_receive_gets_a_due_retry(self):
        msg_id = self._nacked_with_delay()
        deadline = time.monotonic() + 10
        while True:
            try:
                msg = self.q.recv(timeout=0)
                break
            except shmq.Empty:
                self.assertLess(time.monotonic(), deadline, "the retry never became ready")
                time.sleep(0.005)
        self.assertEqual((msg.id, msg.attempt), (msg_id, 2))
        msg.ack()

    def test_recv_async_gets_a_due_retry(self):
        msg_id = self._nacked_with_delay()

        async def main():
            return await self.q.recv_async(timeout=10)
        msg = asyncio.run(main())
        self.assertEqual((msg.id, msg.attempt), (msg_id, 2))
        msg.ack()


if __name__ == "__main__":
    unittest.main()
