"""Threads: a call that must wait releases the GIL, and close() from another
thread ends a blocked receive with Closed."""
import threading
import time
import unittest

import support
import shmq


class Threads(support.QueueTest):
    def _in_thread(self, fn):
        result = {}

        def run():
            try:
                result["value"] = fn()
            except BaseException as e:  # handed to the test thread
                result["error"] = e
        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t, result

    def _wait_for_sleeper(self):
        support.wait_until(lambda: self.q.stats().clients[0].sleeping == 1,
                           what="the receiver to sleep in recv")

    def test_blocked_receive_does_not_hold_the_gil(self):
        t, result = self._in_thread(lambda: self.q.recv(timeout=30).data)
        self._wait_for_sleeper()
        # If the receiver held the GIL, this thread could not run until it timed out.
        self.q.send(b"from another thread")
        t.join(10)
        self.assertFalse(t.is_alive())
        self.assertEqual(result, {"value": b"from another thread"})

    def test_close_wakes_a_blocked_receiver_with_closed(self):
        t, result = self._in_thread(lambda: self.q.recv(timeout=None))
        self._wait_for_sleeper()
        start = time.monotonic()
        self.q.close()
        t.join(10)
        self.assertFalse(t.is_alive())
        self.assertIsInstance(result.get("error"), shmq.Closed)
        self.assertLess(time.monotonic() - start, 3.0)  # a wait slice is 100 ms
        with shmq.Queue(self.name) as watcher:  # detached by the receiver on its way out
            self.assertEqual(len(watcher.stats().clients), 1)


if __name__ == "__main__":
    unittest.main()
