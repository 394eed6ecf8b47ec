"""The exception hierarchy: shmq.Error with one subclass per shmq_error code.

The compiled extension raises these itself (register() hands it the
classes), with messages that name the queue and the sizes involved;
error_for(rc) does the same from Python for a bare code.
"""
from __future__ import annotations

import os
import queue
from typing import Optional

from ._load import core
from .stats import utc_from_ns
from .values import SendResult


class Error(Exception):
    """Any failure reported by libshmq; ``code`` is the shmq_error value."""

    code: int = -1
    sent: int = 0  # send_many only: how many messages went before the failure

    def __init__(self, message: Optional[str] = None, *, code: Optional[int] = None) -> None:
        if code is not None:
            self.code = code
        if message is None:
            message = core.strerror(self.code)
        super().__init__(message)


class Full(Error, queue.Full):
    """No free slot and the overflow policy is "fail" (or a zero timeout). Also a queue.Full."""
    code = 1


class Timeout(Error, TimeoutError):
    """The timeout passed: nothing was sent or received. Also a TimeoutError."""
    code = 2


class Empty(Error, queue.Empty):
    """A non-blocking receive (timeout=0) found no ready message. Also a queue.Empty."""
    code = 3


class LeaseLost(Error):
    """The lease expired or was reclaimed; another consumer may have the message."""
    code = 4


class Closed(Error):
    """The queue was unlinked, or this handle was closed."""
    code = 5


class InvalidArgument(Error, ValueError):
    """A bad argument or parameter. Also a ValueError."""
    code = 6


class BadName(Error, ValueError):
    """The queue name is not 1-64 of [A-Za-z0-9._-] (and not only dots). Also a ValueError."""
    code = 7


class TooBig(Error):
    """The message is larger than the queue's slot size."""
    code = 8


class NotFound(Error):
    """No such queue."""
    code = 9


class Exists(Error):
    """The queue already exists."""
    code = 10


class VersionMismatch(Error):
    """The segment was made by an incompatible shmq version or layout."""
    code = 11


class Corrupt(Error):
    """The segment header is damaged or was never fully initialised."""
    code = 12


class PermissionDenied(Error):
    """Permission denied (another user's segment, or a symlink in its place)."""
    code = 13


class NoSpace(Error):
    """Not enough room in $SHMQ_DIR (/dev/shm) or memory for the segment."""
    code = 14


class TooManyClients(Error):
    """The queue's client table is full (max_clients attached)."""
    code = 15


class PrefetchLimit(Error):
    """This handle already holds its prefetch limit of leases: ack some first."""
    code = 16


class Interrupted(Error):
    """Interrupted by a signal before anything happened."""
    code = 17


class OSFailure(Error):
    """An unexpected system error; ``errno`` holds the C errno seen, if any."""
    code = 18

    def __init__(self, message: Optional[str] = None, *, code: Optional[int] = None,
                 errno: int = 0) -> None:
        self.errno = errno
        if message is None and errno:
            message = f"{core.strerror(self.code)}: {os.strerror(errno)}"
        super().__init__(message, code=code)


class OutOfRange(Error, ValueError):
    """A time beyond what a segment holds (a delay above 14 days, a ttl above 7). Also a ValueError."""
    code = 19


class Busy(Error):
    """The consumer group still holds messages (removed without force)."""
    code = 20


class DedupTableFull(Error):
    """A send with a deduplication key found the queue's key table full of keys
    still in their window; nothing was sent (retry later, or a larger dedup_capacity)."""
    code = 21


class FlushFailed(Error):
    """Writing a disk queue back to its file failed (sync, flush): what was
    sent may not be on disk; ``stats().flush_error`` holds the errno."""
    code = 22


class Rebooted(Error):
    """A memory queue's segment outlived a reboot (SHMQ_DIR on a real
    filesystem): its contents were never made durable, so it is refused;
    unlink it and create the queue again."""
    code = 23


_BY_CODE = {cls.code: cls for cls in (
    Full, Timeout, Empty, LeaseLost, Closed, InvalidArgument, BadName, TooBig, NotFound, Exists,
    VersionMismatch, Corrupt, PermissionDenied, NoSpace, TooManyClients, PrefetchLimit,
    Interrupted, OSFailure, OutOfRange, Busy, DedupTableFull, FlushFailed, Rebooted)}


core.register({"base": Error, **_BY_CODE}, utc_from_ns, SendResult)


def error_for(rc: int, message: Optional[str] = None) -> Error:
    """The exception for C return code ``rc`` (not SHMQ_OK); ``message``
    replaces libshmq's description."""
    cls = _BY_CODE.get(rc)
    if cls is None:
        return Error(message, code=rc)
    return cls(message)
