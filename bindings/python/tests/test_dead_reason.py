"""nack(reason=) and reject(reason=): the dead letter carries the reason the
caller gave (checked in shmqd's dead-letter store through shmqctl); a reason
only libshmq gives is refused and the message stays leased."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import support
import shmq

SHMQD, SHMQCTL = os.environ.get("SHMQD"), os.environ.get("SHMQCTL")


class Reasons(support.QueueTest):
    create_args = {"slot_size": 64, "slot_count": 16, "max_attempts": 1}

    def test_reject_and_nack_with_a_reason_dead_letter_the_message(self):
        self.q.send_many([b"r", b"n"])
        self.q.recv(timeout=0).reject(reason=shmq.DeadReason.BRIDGE_REJECTED)
        self.q.recv(timeout=0).nack(0, reason=shmq.DeadReason.BRIDGE_REJECTED)  # attempt 1 of 1
        s = self.q.stats()
        self.assertEqual((s.dead, s.rejected, s.nacked), (2, 1, 1))

    def test_a_reason_only_libshmq_gives_is_refused_and_changes_nothing(self):
        self.q.send(b"x")
        msg = self.q.recv(timeout=0)
        for reason in (shmq.DeadReason.EXPIRED, shmq.DeadReason.INVALID, shmq.DeadReason.GROUP_REMOVED, 99, 0):
            with self.assertRaises(shmq.InvalidArgument) as cm:
                msg.reject(reason=reason)
            self.assertIn("still leased", str(cm.exception))
            self.assertRaises(shmq.InvalidArgument, msg.nack, reason=reason)
        self.assertRaises(TypeError, msg.reject, reason="rejected")
        self.assertRaises(TypeError, msg.reject, shmq.DeadReason.REJECTED)  # keyword only
        self.assertFalse(msg.finished)
        self.assertEqual(self.q.stats().leased, 1)
        msg.ack()

    def test_a_reason_names_its_store_label(self):
        self.assertEqual([r.name.lower() for r in shmq.DeadReason],
                         ["max_attempts", "rejected", "expired", "invalid", "group_removed", "bridge_rejected"])


@unittest.skipUnless(SHMQD and SHMQCTL, "needs $SHMQD and $SHMQCTL (ctest sets them)")
class InTheStore(unittest.TestCase):
    """Through shmqd: each dead letter in the store has the reason given."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="shmqd-", dir=support.SHMQ_DIR)
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.name = support.unique_name("dlq")
        with open(os.path.join(self.dir, "shmqd.toml"), "w") as f:
            f.write(f'version = 1\n[daemon]\nspill_dir = "{self.dir}/spill"\n'
                    f'dead_letter_dir = "{self.dir}/dlq"\nmetrics = "off"\napi_socket = "off"\ntick_ms = 5\n'
                    f'[queues."{self.name}"]\nslot_count = 16\nslot_size = 64\nmax_clients = 8\n'
                    f'max_attempts = 1\n')
        self.log = open(os.path.join(self.dir, "shmqd.log"), "w+")
        self.shmqd = subprocess.Popen([SHMQD, "--config", f"{self.dir}/shmqd.toml", "--foreground"],
                                      stdout=self.log, stderr=subprocess.STDOUT)
        self.addCleanup(self._stop)
        support.wait_until(self._ready, what="shmqd ready")

    def _ready(self):
        with open(self.log.name) as f:
            log = f.read()
        if self.shmqd.poll() is not None:
            raise AssertionError("shmqd exited: " + log)
        return "ready" in log

    def _stop(self):
        self.shmqd.kill()
        self.shmqd.wait()
        self.log.close()
        try:
            shmq.unlink(self.name)
        except shmq.NotFound:
            pass

    def _dead_letters(self):
        out = subprocess.run([SHMQCTL, "--json", "dlq", "list", self.name, "--dlq-dir", f"{self.dir}/dlq"],
                             check=True, capture_output=True, text=True).stdout
        return json.loads(out)

    def test_the_dead_letter_carries_the_reason_given(self):
        with shmq.Queue(self.name) as q:
            ids = []
            q.send_many([b"bridge", b"nacked", b"plain", b"plain nack"], ids=ids)
            q.recv(timeout=1).reject(reason=shmq.DeadReason.BRIDGE_REJECTED)
            q.recv(timeout=1).nack(0, reason=shmq.DeadReason.BRIDGE_REJECTED)
            q.recv(timeout=1).reject()
            q.recv(timeout=1).nack(0)
            support.wait_until(lambda: len(self._dead_letters()) == 4, what="4 dead letters in the store")
        reasons = {d["id"]: d["reason"] for d in self._dead_letters()}
        self.assertEqual(reasons, {ids[0]: "bridge_rejected", ids[1]: "bridge_rejected",
                                   ids[2]: "rejected", ids[3]: "max_attempts"})


if __name__ == "__main__":
    unittest.main()
