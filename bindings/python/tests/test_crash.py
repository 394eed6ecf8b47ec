"""A consumer killed with SIGKILL while holding a lease: recovery gives the
message back and the next consumer gets it with attempt 2."""
import signal
import unittest

import support


class KilledConsumer(support.QueueTest):
    def test_message_of_a_killed_consumer_is_redelivered(self):
        self.q.send(b"survives a kill -9")
        holder = support.child("hold", self.name)
        try:
            held_id = int(support.read_line(holder))
        finally:
            holder.send_signal(signal.SIGKILL)
            holder.wait(10)
            holder.stdout.close()
        self.assertEqual(holder.returncode, -signal.SIGKILL)
        self.assertEqual(self.q.stats().leased, 1)
        report = self.q.recover()
        self.assertEqual((report.dead_clients, report.leases_reclaimed), (1, 1))
        msg = self.q.recv(timeout=10)
        self.assertEqual((msg.id, msg.attempt, msg.data), (held_id, 2, b"survives a kill -9"))
        msg.ack()
        self.assertEqual(self.q.stats().redelivered, 1)


if __name__ == "__main__":
    unittest.main()
