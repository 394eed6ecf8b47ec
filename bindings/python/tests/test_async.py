"""asyncio: recv_async waits on the queue's readiness fd in the event loop
(no thread) and is woken by a send from another process."""
import asyncio
import os
import sys
import time
import unittest

import support
import shmq


async def until(cond, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


def waiting_coroutines(q):
    w = q._waiter
    return 0 if w is None else sum(len(f) for f in w._waiting.values())


async def send_from_child(name, *payloads):
    env = dict(os.environ, PYTHONPATH=support.PACKAGE_ROOT)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, os.path.join(support.HERE, "child.py"), "send", name, *payloads, env=env)
    assert await asyncio.wait_for(proc.wait(), 20) == 0


class RecvAsync(support.QueueTest):
    def test_woken_by_a_send_from_another_process(self):
        async def main():
            task = asyncio.create_task(self.q.recv_async())  # no timeout: only a wake-up ends it
            await until(lambda: waiting_coroutines(self.q) == 1, what="recv_async to wait")
            await send_from_child(self.name, "hello from a child")
            msg = await asyncio.wait_for(task, 10)
            self.assertEqual(msg.data, b"hello from a child")
            msg.ack()
            self.assertEqual(waiting_coroutines(self.q), 0)
        asyncio.run(main())

    def test_several_coroutines_share_the_fd(self):
        async def main():
            tasks = [asyncio.create_task(self.q.recv_async()) for _ in range(3)]
            await until(lambda: waiting_coroutines(self.q) == 3, what="three waiters")
            await send_from_child(self.name, "a", "b", "c")
            msgs = await asyncio.wait_for(asyncio.gather(*tasks), 10)
            self.assertEqual(sorted(m.data for m in msgs), [b"a", b"b", b"c"])
            for m in msgs:
                m.ack()
        asyncio.run(main())

    def test_ready_message_returns_at_once(self):
        self.q.send(b"ready")

        async def main():
            msg = await self.q.recv_async(timeout=0)
            self.assertEqual(msg.data, b"ready")
            msg.ack()
        asyncio.run(main())

    def test_timeout(self):
        async def main():
            start = time.monotonic()
            with self.assertRaises(shmq.Timeout):
                await self.q.recv_async(timeout=0.05)
            self.assertGreaterEqual(time.monotonic() - start, 0.05)
            self.assertEqual(waiting_coroutines(self.q), 0)
        asyncio.run(main())

    def test_close_wakes_waiters_with_closed(self):
        async def main():
            task = asyncio.create_task(self.q.recv_async())
            await until(lambda: waiting_coroutines(self.q) == 1, what="recv_async to wait")
            self.q.close()
            with self.assertRaises(shmq.Closed):
                await asyncio.wait_for(task, 10)
        asyncio.run(main())


if __name__ == "__main__":
    unittest.main()
