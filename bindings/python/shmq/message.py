"""A leased message: its payload, identity, and how to finish it.

A Message is finished exactly once, by ack(), nack() or reject() (or by the
``with`` block: ack on success, nack if the block raised); one dropped
unfinished is nacked when it is garbage-collected. Its zero-copy
view() points into the queue's shared memory and is released when the
message is finished; see view() for what stays valid.
"""
from __future__ import annotations

import ctypes
import math
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Callable, Optional, Type

from ._lib import Msg, fast
from .errors import InvalidArgument, LeaseLost, raise_for
from .stats import utc_from_ns

if TYPE_CHECKING:
    from .queue import Queue

# Prototype-less (see _lib.fast): arguments are passed as ctypes objects.
_ack, _nack, _reject, _extend = fast.shmq_ack, fast.shmq_nack, fast.shmq_reject, fast.shmq_extend
_addressof, _byref, _int64, _uint32 = ctypes.addressof, ctypes.byref, ctypes.c_int64, ctypes.c_uint32


class Message:
    """One leased message. Not thread-safe: finish it from one thread."""

    __slots__ = ("_queue", "_msg", "_data", "_views", "_done")

    def __init__(self, queue: "Queue", msg: Msg, copy: bool = True) -> None:
        self._queue = queue
        self._msg = msg
        self._data: Optional[bytes] = msg.data[:msg.len] if copy else None
        self._views: Optional[list[memoryview]] = None
        self._done = False

    # ---- payload ---------------------------------------------------------
    @property
    def data(self) -> bytes:
        """The payload as bytes (a copy, taken at receive unless recv(copy=False))."""
        if self._data is None:
            if self._done:
                raise InvalidArgument("payload was not copied and the message is finished")
            self._data = self._msg.data[:self._msg.len]
        return self._data

    def view(self) -> memoryview:
        """A read-only, zero-copy memoryview of the payload in shared memory.

        Valid only while the message is leased: ack(), nack() and reject()
        release it (using it then raises ValueError). Views derived from it
        (slices, numpy arrays) are not released; they keep the segment mapped
        (close() is deferred until they are gone), but after the message is
        finished their bytes may belong to another message. If the lease
        expires the slot may be reused under any view: extend() in time.
        """
        if self._done:
            raise InvalidArgument("message is finished; its payload is gone")
        view = self._queue._zero_copy(_addressof(self._msg.data.contents), self._msg.len)
        if self._views is None:
            self._views = []
        self._views.append(view)
        return view

    def __len__(self) -> int:
        return self._msg.len

    # ---- identity --------------------------------------------------------
    @property
    def id(self) -> int:
        """Unique and stable per queue; the same on redelivery."""
        return self._msg.id

    @property
    def attempt(self) -> int:
        """Delivery count: 1 on first delivery."""
        return self._msg.attempt

    @property
    def lease(self) -> float:
        """Length of the lease granted, in seconds."""
        return self._msg.lease_ms / 1000

    @property
    def enqueued_ns(self) -> int:
        """First enqueue time, nanoseconds since the epoch (CLOCK_REALTIME)."""
        return self._msg.enqueued_ns

    @property
    def enqueued_at(self) -> datetime:
        """First enqueue time as a timezone-aware UTC datetime."""
        return utc_from_ns(self._msg.enqueued_ns)

    @property
    def finished(self) -> bool:
        """True once acked, nacked, rejected, or its lease was found lost."""
        return self._done

    # ---- finishing -------------------------------------------------------
    def ack(self) -> None:
        """Done: free the slot. Raises LeaseLost if the lease was reclaimed."""
        self._finish(_ack)

    def nack(self, delay: Optional[float] = None) -> None:
        """Retry later: after ``delay`` seconds, or the queue's backoff if None."""
        ns = -1 if delay is None else _nonnegative_ns(delay)
        self._finish(_nack, _int64(ns))

    def reject(self) -> None:
        """No retry: dead-letter the message now."""
        self._finish(_reject)

    def extend(self, seconds: float) -> None:
        """Extend the lease to ``seconds`` from now (rounded up to ms)."""
        ms = math.ceil(_nonnegative_ns(seconds) / 1e6)
        if ms > 0xFFFFFFFF:
            raise InvalidArgument(f"lease too long: {seconds!r} s")
        rc = self._queue._call(_extend, _byref(self._msg), _uint32(ms))
        if rc == LeaseLost.code:
            self._spent()
        if rc:
            raise_for(rc)

    def _finish(self, fn: Callable[..., int], *extra: ctypes.c_int64) -> None:
        if self._done:
            raise InvalidArgument("message was already acked, nacked or rejected")
        rc = self._queue._call(fn, _byref(self._msg), *extra)
        self._spent()
        if rc:
            raise_for(rc)

    def _spent(self) -> None:
        self._done = True
        views, self._views = self._views, None
        for view in views or ():
            try:
                view.release()
            except BufferError:
                pass  # a derived buffer holds it; it keeps the mapping alive

    def __del__(self) -> None:
        """A message dropped unfinished is nacked (backoff applies), never leaked."""
        if not self._done:
            try:
                self._finish(_nack, _int64(-1))
            except Exception:
                pass  # closed queue, lost lease, interpreter shutdown: nothing to give back

    # ---- with-block: ack on success, nack on error ------------------------
    def __enter__(self) -> "Message":
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        if self._done:
            return
        if exc_type is None:
            self.ack()
            return
        try:
            self.nack()
        except LeaseLost:
            pass  # the block's own exception matters more

    def __repr__(self) -> str:
        state = "finished" if self._done else "leased"
        return f"<shmq.Message id={self.id} attempt={self.attempt} len={len(self)} {state}>"


def _nonnegative_ns(seconds: float) -> int:
    if seconds < 0:
        raise InvalidArgument(f"a duration must not be negative, got {seconds!r}")
    return int(seconds * 1e9)
