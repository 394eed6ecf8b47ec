"""A stand-in for an email provider's API, shared by the email worker and the
web server's synchronous mode, so both pay the same price per email.

Each call costs a network round trip (``latency`` seconds) and fails with a
transient error in a ``fail_rate`` share of calls (the "flaky dependency").
Like providers that take an idempotency key, it sends at most one email per
``message_id``: a repeated call returns False and sends nothing. Sent mail is
one ``<message_id>.eml`` file in the outbox directory, written whole.
"""
from __future__ import annotations

import os
import random
import time
from typing import Optional


class TransientError(Exception):
    """The provider said "try again later" (an SMTP 4xx)."""


class Mailer:
    def __init__(self, outbox: str, latency: float = 0.02, fail_rate: float = 0.0,
                 seed: Optional[int] = None) -> None:
        if not 0.0 <= fail_rate < 1.0:
            raise ValueError(f"fail_rate must be in [0, 1), got {fail_rate}")
        self.outbox = outbox
        self.latency = latency
        self.fail_rate = fail_rate
        self._rng = random.Random(seed)
        os.makedirs(outbox, exist_ok=True)

    def send(self, message_id: str, to: str, subject: str, body: str) -> bool:
        """Send one email; True if sent now, False if ``message_id`` was sent before."""
        time.sleep(self.latency)  # the provider's round trip, not a synchronisation
        if self._rng.random() < self.fail_rate:
            raise TransientError("421 4.3.2 service busy, try again later")
        final = os.path.join(self.outbox, f"{message_id}.eml")
        tmp = os.path.join(self.outbox, f".{message_id}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(f"Message-ID: <{message_id}@orders.example>\nTo: {to}\n"
                    f"Subject: {subject}\n\n{body}\n")
        try:
            os.link(tmp, final)  # atomic and exclusive: the idempotency check
            return True
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)
