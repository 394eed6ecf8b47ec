"""Small value types of the API: what a send with a deduplication key
returns (SendResult) and why a message becomes a dead letter (DeadReason)."""
from __future__ import annotations

import enum


class SendResult(int):
    """The id a send with a deduplication key got: an ``int`` (the id, the
    consumer's ``msg.id``) that also says whether the send was a duplicate.

    ``duplicate`` is True when a message with the same key had been sent
    within the queue's window: nothing was stored, and the id is that first
    message's. A send without a key returns a plain ``int`` (it cannot be a
    duplicate).
    """

    duplicate: bool

    def __new__(cls, id: int, duplicate: bool) -> "SendResult":
        self = super().__new__(cls, id)
        self.duplicate = bool(duplicate)
        return self

    @property
    def id(self) -> int:
        return int(self)

    def __getnewargs__(self) -> tuple:
        return (int(self), self.duplicate)

    def __repr__(self) -> str:
        return f"SendResult(id={int(self)}, duplicate={self.duplicate})"


class DeadReason(enum.IntEnum):
    """Why a message became a dead letter (shmq.h's SHMQ_DEAD_*); shmqd's
    dead-letter store and its metric name them in lower case
    (``reason.name.lower()``). ``msg.nack(reason=...)`` and
    ``msg.reject(reason=...)`` accept MAX_ATTEMPTS, REJECTED and
    BRIDGE_REJECTED; the others only libshmq gives. 0 is no reason: it is
    refused (InvalidArgument), as by shmq_nack_ex and Go's NackWithReason;
    ``reason=None`` is the default."""

    MAX_ATTEMPTS = 1     # out of attempts (nack's default)
    REJECTED = 2         # reject's default
    EXPIRED = 3          # its time to live passed
    INVALID = 4          # a slot whose lengths are broken
    GROUP_REMOVED = 5    # its topic group was removed
    BRIDGE_REJECTED = 6  # a broker refused it (shmq-bridge)
