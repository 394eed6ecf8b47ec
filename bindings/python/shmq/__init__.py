"""shmq: a crash-safe shared-memory work queue (Python binding of libshmq).

    with shmq.Queue("orders") as q:
        q.send(b"order 42")
        with q.recv(timeout=1.0) as msg:   # acked on success, nacked on error
            handle(msg.data)

The hot calls are a compiled extension (shmq._core) over libshmq; segments
are mapped only by the C library (never multiprocessing.shared_memory).
"""
from __future__ import annotations

from ._load import core as _core
from .errors import (BadName, Busy, Closed, Corrupt, DedupTableFull, Empty, Error, Exists, FlushFailed, Full,
                     Interrupted, Rebooted,
                     InvalidArgument, LeaseLost, NoSpace, NotFound, OSFailure, OutOfRange,
                     PermissionDenied,
                     PrefetchLimit, Timeout, TooBig, TooManyClients, VersionMismatch)
from .queue import Queue, unlink
from .stats import ROLE_DAEMON, ROLE_RECEIVER, ROLE_SENDER, ClientStats, QueueParams, Recovery, Stats
from .values import DeadReason, SendResult

Message = _core.Message
MAX_GROUPS = _core.MAX_GROUPS  # most consumer groups of one topic
MAX_DEDUP_KEY = _core.MAX_DEDUP_KEY  # longest deduplication key, in bytes
__version__ = "0.5.0"


def library_version() -> str:
    """The loaded libshmq's version, "major.minor.patch"."""
    v = _core.version()
    return f"{v // 10000}.{v // 100 % 100}.{v % 100}"


__all__ = [
    "Queue", "Message", "MAX_GROUPS", "MAX_DEDUP_KEY", "SendResult", "DeadReason", "unlink", "library_version", "Stats", "ClientStats", "QueueParams",
    "Recovery", "Error", "Full", "Timeout", "Empty", "LeaseLost", "Closed", "InvalidArgument",
    "BadName", "TooBig", "NotFound", "Exists", "VersionMismatch", "Corrupt", "PermissionDenied",
    "NoSpace", "TooManyClients", "PrefetchLimit", "Interrupted", "OSFailure", "OutOfRange",
    "Busy", "DedupTableFull", "FlushFailed", "Rebooted", "ROLE_SENDER", "ROLE_RECEIVER", "ROLE_DAEMON",
]
