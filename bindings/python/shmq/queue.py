"""shmq.Queue: one process's handle on one queue.

Blocking calls wait in slices of at most 100 ms: between slices the handle
notices close() from another thread and Python runs signal handlers (Ctrl-C),
which a single long C call would delay. Every C call releases the GIL.
"""
from __future__ import annotations

import ctypes
import itertools
import time
from typing import Any, Callable, Iterable, Iterator, Optional

from . import _lib
from ._args import address, buffer_of, check_timeout, encode, options, params
from ._handle import Handle
from ._lib import Iov, Msg, fast, lib
from .aio import ReadyWaiter
from .errors import Closed, Empty, Error, Timeout, error_for, raise_for
from .message import Message
from .stats import QueueParams, Recovery, Stats

_SLICE_NS = 100_000_000
_ASYNC_RECHECK = 0.1  # seconds
_BATCH = 256  # messages per shmq_send_batch call in send_many
_TIMEDOUT = Timeout.code
_send, _recv, _send_batch = fast.shmq_send, fast.shmq_recv, lib.shmq_send_batch
_byref, _int64, _size = ctypes.byref, ctypes.c_int64, ctypes.c_size_t
_SLICE, _NO_WAIT = _int64(_SLICE_NS), _int64(0)


def unlink(name: str) -> None:
    """Remove queue ``name``. Open handles keep working on the old segment
    until they close; new opens raise NotFound."""
    rc = lib.shmq_unlink(encode(name))
    if rc:
        raise_for(rc)


class Queue:
    """A handle on queue ``name``, opened with ``Queue(name)`` or made with
    ``Queue.create(name, ...)``. Usable from several threads at once.

    Closing (``close()``, the end of a ``with`` block, or garbage collection)
    detaches from the queue; leases still held go back to it. Do not use a
    Queue in a process forked after it was opened: open a new one there.
    """

    def __init__(self, name: str, *, prefetch: int = 64, spin_ns: int = 20000) -> None:
        out = ctypes.c_void_p()
        rc = lib.shmq_open(encode(name), _byref(options(prefetch, spin_ns)), _byref(out))
        if rc:
            raise_for(rc)
        self._attach(name, out)

    @classmethod
    def create(cls, name: str, *, slot_size: Optional[int] = None,
               slot_count: Optional[int] = None, max_clients: Optional[int] = None,
               lease: Optional[float] = None, max_attempts: Optional[int] = None,
               backoff_base: Optional[float] = None, backoff_cap: Optional[float] = None,
               jitter: Optional[str] = None, overflow: Optional[str] = None, mode: int = 0o600,
               prefetch: int = 64, spin_ns: int = 20000) -> "Queue":
        """Create queue ``name`` and attach to it; raises Exists if it exists.

        Durations are in seconds; None keeps libshmq's default (1 KiB x 1024
        slots, 64 clients, 30 s lease, 5 attempts, backoff 0.1 s .. 30 s with
        "full" jitter, "block" overflow). jitter: "full", "equal" or "none";
        overflow: "block", "fail" or "spill".
        """
        p = params(slot_size, slot_count, max_clients, lease, max_attempts, backoff_base,
                   backoff_cap, jitter, overflow, mode)
        out = ctypes.c_void_p()
        rc = lib.shmq_create(encode(name), _byref(p), _byref(options(prefetch, spin_ns)),
                             _byref(out))
        if rc:
            raise_for(rc)
        q = cls.__new__(cls)
        q._attach(name, out)
        return q

    def _attach(self, name: str, ptr: ctypes.c_void_p) -> None:
        self.name = name
        self._h = Handle(ptr)
        p = _lib.Params()
        lib.shmq_get_params(ptr, _byref(p))
        self.params = QueueParams.from_c(p)
        self._buffer_type = _buffer_type(self._h, p.slot_size)
        self._waiter: Optional[ReadyWaiter] = None

    # ---- life ------------------------------------------------------------
    def close(self) -> None:
        """Detach (idempotent). Returns at once; if another thread is inside a
        call, an asyncio waiter waits, or a zero-copy view is alive, the last of
        them detaches. Blocked callers get Closed within one wait slice."""
        h = getattr(self, "_h", None)
        if h is None:
            return
        h.close()
        waiter = getattr(self, "_waiter", None)
        if waiter is not None:
            waiter.wake_all_threadsafe()

    @property
    def closed(self) -> bool:
        return self._h.closed

    def __enter__(self) -> "Queue":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<shmq.Queue {self.name!r}{' closed' if self.closed else ''}>"

    # ---- sending ---------------------------------------------------------
    def send(self, data: Any, timeout: Optional[float] = None) -> None:
        """Copy ``data`` (any bytes-like object) into the queue.

        A full queue makes this wait up to ``timeout`` seconds (None: as long as
        it takes) and raise Timeout, or raise Full at once under the "fail"
        overflow policy or with timeout=0.
        """
        if type(data) is bytes:
            rc = self._blocking(_send, (data, _size(len(data))), timeout)
        else:
            ptr, n, _keep = buffer_of(data)
            rc = self._blocking(_send, (ptr, _size(n)), timeout)
        if rc:
            raise_for(rc)

    def send_many(self, messages: Iterable[Any], timeout: Optional[float] = None) -> int:
        """Send each bytes-like object in order (shmq_send_batch); returns the count.

        ``timeout`` applies to each batch of up to 256 messages. On failure the
        exception has ``.sent``: how many were sent before it.
        """
        sent = 0
        it = iter(messages)
        while True:
            chunk = list(itertools.islice(it, _BATCH))
            if not chunk:
                return sent
            try:
                sent += self._send_chunk(chunk, timeout)
            except Error as e:
                e.sent += sent
                raise

    def _send_chunk(self, chunk: list[Any], timeout: Optional[float]) -> int:
        iovs = (Iov * len(chunk))()
        keep = []
        for i, data in enumerate(chunk):
            ptr, n, k = buffer_of(data)
            keep.append(k)
            iovs[i].data = address(ptr)
            iovs[i].len = n
        done = 0
        count = ctypes.c_size_t()

        def call(h: ctypes.c_void_p, ns: ctypes.c_int64) -> int:
            nonlocal done
            rc = _send_batch(h, _byref(iovs[done]), len(chunk) - done,
                             _byref(count), ns)
            done += count.value
            return _TIMEDOUT if rc == 0 and done < len(chunk) else rc

        try:
            rc = self._blocking(call, (), timeout)
            if rc:
                raise error_for(rc)
        except Error as e:
            e.sent = done
            raise
        return done

    # ---- receiving -------------------------------------------------------
    def recv(self, timeout: Optional[float] = None, *, copy: bool = True) -> Message:
        """Lease the oldest ready message, waiting up to ``timeout`` seconds.

        None waits as long as it takes; 0 does not wait (raises Empty). Raises
        Timeout when the time passes, PrefetchLimit if this handle already
        holds its prefetch limit of leases. With copy=False the payload is not
        copied at receive (use view(), or .data before finishing).
        """
        msg = Msg()
        rc = self._blocking(_recv, (_byref(msg),), timeout)
        if rc:
            raise_for(rc)
        return Message(self, msg, copy)

    def consume(self, timeout: Optional[float] = None, *, copy: bool = True) -> Iterator[Message]:
        """Yield messages as they come; each must be finished (e.g. ``with msg:``).

        With a timeout, iteration ends once no message came for that long.
        """
        while True:
            try:
                msg = self.recv(timeout, copy=copy)
            except (Timeout, Empty):
                return
            yield msg

    async def recv_async(self, timeout: Optional[float] = None, *, copy: bool = True) -> Message:
        """Like recv(), for asyncio: waits on the readiness fd, not in a thread.

        Raises Timeout when ``timeout`` seconds pass (None: wait forever).
        """
        ns = None if timeout is None else check_timeout(timeout)
        deadline = None if ns is None else time.monotonic() + ns / 1e9
        waiter = self._ready_waiter()  # the fd must exist before recv(0) can arm it
        while True:
            try:
                return self.recv(0, copy=copy)
            except Empty:
                pass
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise Timeout()
            # Due retries and expired leases become ready only when someone runs
            # recovery (shmqd, or recv itself): look again at least every 100 ms.
            await waiter.wait(_ASYNC_RECHECK if left is None else min(left, _ASYNC_RECHECK))

    def _ready_waiter(self) -> ReadyWaiter:
        if self._waiter is None:
            fd = ctypes.c_int()
            rc = self._call(lib.shmq_ready_fd, _byref(fd))
            if rc:
                raise_for(rc)
            self._waiter = ReadyWaiter(self._h, fd.value)
        return self._waiter

    # ---- observing -------------------------------------------------------
    def stats(self) -> Stats:
        """A snapshot of the queue's counts, totals and attached clients."""
        cap = self.params.max_clients
        clients = (_lib.ClientStats * cap)()
        s = _lib.Stats(struct_size=ctypes.sizeof(_lib.Stats), client=clients, client_cap=cap)
        rc = self._call(lib.shmq_stats_get, _byref(s))
        if rc:
            raise_for(rc)
        return Stats.from_c(s)

    def recover(self) -> Recovery:
        """Run one recovery pass: reclaim dead clients' and expired leases,
        promote due retries. shmqd does this on a timer when it runs."""
        r = _lib.Recovery()
        rc = self._call(lib.shmq_recover, _byref(r))
        if rc:
            raise_for(rc)
        return Recovery.from_c(r)

    # ---- plumbing --------------------------------------------------------
    def _call(self, fn: Callable[..., int], *args: Any) -> int:
        """fn(handle, *args) while holding a use of the handle (Handle.enter inlined)."""
        h = self._h
        busy = h.busy
        busy.append(None)
        try:
            ptr = h.ptr
            if ptr is None:
                raise Closed("queue handle is closed")
            return fn(ptr, *args)
        finally:
            busy.pop()
            if h.ptr is None:
                h.maybe_detach()

    def _blocking(self, fn: Callable[..., int], args: tuple, timeout: Optional[float]) -> int:
        """fn(handle, *args, timeout_ns) in slices until it stops timing out.

        fn may be a prototype-less function of _lib.fast: the timeout is passed
        as a c_int64 and args must already be ctypes objects."""
        ns = None if timeout is None else check_timeout(timeout)
        if ns is None:
            rc = self._call(fn, *args, _SLICE)
            while rc == _TIMEDOUT:
                rc = self._call(fn, *args, _SLICE)
            return rc
        if ns == 0:
            return self._call(fn, *args, _NO_WAIT)
        deadline = time.monotonic_ns() + ns
        while True:
            ns = min(_SLICE_NS, deadline - time.monotonic_ns())
            if ns <= 0:
                return _TIMEDOUT
            rc = self._call(fn, *args, _int64(ns))
            if rc != _TIMEDOUT:
                return rc

    def _zero_copy(self, addr: int, length: int) -> memoryview:
        h = self._h
        h.enter()
        try:
            h.add_view()  # dropped by the buffer's __del__
            buf = self._buffer_type.from_address(addr)
        finally:
            h.leave()
        return memoryview(buf).cast("B")[:length].toreadonly()


def _buffer_type(handle: Handle, slot_size: int) -> type:
    """A ctypes array over one slot's payload that keeps the mapping alive."""

    class SlotBuffer(ctypes.c_ubyte * slot_size):  # type: ignore[misc]
        __slots__ = ()

        def __del__(self) -> None:
            handle.drop_view()

    return SlotBuffer
