"""shmq.Queue: one process's handle on one queue.

The hot calls (send, send_many, recv, recv_many, ack_many, qsize and every
method of Message) are C methods inherited from shmq._core.Queue; this class
adds creating, observing, iteration, asyncio and pickling. A blocking call
tries once without waiting while holding the GIL; only if it must wait does
it release the GIL, in slices of at most 100 ms, between which it notices
close() from another thread and runs signal handlers (Ctrl-C).
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Iterator, Optional

from ._args import check_name, options, params
from ._load import core
from .aio import ReadyWaiter
from .errors import Empty, Full, InvalidArgument, Timeout, error_for
from .stats import QueueParams, Recovery, Stats

Message = core.Message
_ASYNC_RECHECK = 0.1      # seconds between looks while waiting for a message
_SEND_BACKOFF = (0.0005, 0.02)  # first and longest pause of an async send on a full queue


def unlink(name: str) -> None:
    """Remove queue ``name``. Open handles keep working on the old segment
    until they close; new opens raise NotFound."""
    rc = core.unlink(check_name(name))
    if rc:
        raise error_for(rc, f"{core.strerror(rc)} (queue '{name}')")


def _reopen(name: str, prefetch: int, spin_ns: int, wait: str = "adaptive",
            group: Optional[str] = None) -> "Queue":
    if group is not None:
        return Queue.open_group(name, group, prefetch=prefetch, spin_ns=spin_ns, wait=wait)
    return Queue(name, prefetch=prefetch, spin_ns=spin_ns, wait=wait)


class Queue(core.Queue):
    """A handle on queue ``name``, opened with ``Queue(name)`` or made with
    ``Queue.create(name, ...)``. Usable from several threads at once.

    A topic is a Queue made with ``Queue.create(name, max_groups=N)``: its
    handle publishes (send fans out to every bound group, once, zero-copy)
    and binds groups (``add_group``); ``Queue.open_group(topic, group)``
    gives a group's consumer handle, which receives as on a queue.

    Closing (``close()``, the end of a ``with`` block, or garbage collection)
    detaches from the queue; leases still held go back to it. Passed to a
    multiprocessing child (fork or spawn), a Queue opens the queue again by
    name there; the parent's leases stay the parent's.
    """

    def __init__(self, name: str, *, prefetch: int = 64, spin_ns: int = 20000,
                 wait: str = "adaptive") -> None:
        """prefetch: most messages leased at once (0: no limit); spin_ns: longest
        a blocking call spins before it sleeps; wait: "adaptive" spins only while
        spinning pays off (sleeps at once on a busy host), "spin" always spins
        spin_ns first (latency at the cost of a core)."""
        check_name(name)
        self._open(name, *options(prefetch, spin_ns, wait))
        self._attached(prefetch, spin_ns, wait)

    @classmethod
    def create(cls, name: str, *, slot_size: Optional[int] = None,
               slot_count: Optional[int] = None, max_clients: Optional[int] = None,
               lease: Optional[float] = None, max_attempts: Optional[int] = None,
               backoff_base: Optional[float] = None, backoff_cap: Optional[float] = None,
               jitter: Optional[str] = None, overflow: Optional[str] = None, mode: int = 0o600,
               prefetch: int = 64, spin_ns: int = 20000, wait: str = "adaptive",
               ttl: Optional[float] = None, max_groups: int = 0,
               dedup_window: Optional[float] = None, dedup_capacity: Optional[int] = None,
               durability: Optional[str] = None) -> "Queue":
        """Create queue ``name`` and attach to it; raises Exists if it exists.

        Durations are in seconds (or timedeltas); None keeps libshmq's default (1 KiB x 1024
        slots, 64 clients, 30 s lease, 5 attempts, backoff 0.1 s .. 30 s with
        "full" jitter, "block" overflow). jitter: "full", "equal" or "none";
        overflow: "block", "fail" or "spill". prefetch, spin_ns and wait as
        for Queue(). ttl: the default time to live of a message, in seconds
        (None: none; at most 7 days): one not leased within it once ready is
        dead-lettered as expired. max_groups: 0 makes a queue; 1 .. 16 a topic
        with room for that many consumer groups (add_group, open_group).
        dedup_window: seconds (at most 7 days; None: off) during which a
        send with the same dedup_key as an earlier one stores nothing and
        returns the first message's id; dedup_capacity: keys the table holds
        at once (None: 2 x slot_count). A topic's duplicate reaches no group.
        durability: "memory" (None, the default) or "disk": the segment is a
        file in SHMQ_DIR, which must then be on a real filesystem, written back
        by sync() (and by shmqd every flush_ms); after a crash of the host it
        is rebuilt and every message a sync() confirmed is there
        (docs/durability.md). Queues only.
        """
        check_name(name)
        p = params(slot_size, slot_count, max_clients, lease, max_attempts, backoff_base,
                   backoff_cap, jitter, overflow, mode, ttl, dedup_window, dedup_capacity, durability)
        if not isinstance(max_groups, int) or not 0 <= max_groups <= core.MAX_GROUPS:
            raise InvalidArgument(f"max_groups must be 0 (a queue) .. {core.MAX_GROUPS}, "
                                  f"got {max_groups!r}")
        p["max_groups"] = max_groups
        q = cls.__new__(cls)
        q._create(name, p, *options(prefetch, spin_ns, wait))
        q._attached(prefetch, spin_ns, wait)
        return q

    @classmethod
    def open_group(cls, topic: str, group: str, *, prefetch: int = 64, spin_ns: int = 20000,
                   wait: str = "adaptive") -> "Queue":
        """A consumer handle on group ``group`` of topic ``topic``: recv, ack,
        nack, reject, extend, the batch forms and asyncio work as on a queue,
        with the group's own leases, retries and dead letters; send raises
        InvalidArgument. NotFound if the topic or the group does not exist,
        InvalidArgument if ``topic`` is a queue. Options as for Queue()."""
        q = cls.__new__(cls)
        q._open_group(topic, group, *options(prefetch, spin_ns, wait))
        q._attached(prefetch, spin_ns, wait)
        return q

    def _attached(self, prefetch: int, spin_ns: int, wait: str) -> None:
        self.params = QueueParams.from_c(self._params())
        self._options = (prefetch, spin_ns, wait)
        self._waiter: Optional[ReadyWaiter] = None

    # ---- life ------------------------------------------------------------
    def close(self) -> None:
        """Detach (idempotent). Returns at once; if another thread is inside a
        call, an asyncio waiter waits, or a zero-copy view is alive, the last of
        them detaches. Blocked callers get Closed within one wait slice."""
        super().close()
        waiter = self.__dict__.get("_waiter")
        if waiter is not None:
            waiter.wake_all_threadsafe()

    def __enter__(self) -> "Queue":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __reduce__(self) -> tuple:
        group = () if self.group is None else (self.group,)
        return (_reopen, (self.name, *self._options, *group))

    def __repr__(self) -> str:
        what = self.name if self.group is None else f"{self.name}/{self.group}"
        return f"<shmq.Queue {what!r}{' closed' if self.closed else ''}>"

    # ---- size --------------------------------------------------------------
    def __len__(self) -> int:
        """Messages ready now (not leased, not delayed): qsize()."""
        return self.qsize()

    def __bool__(self) -> bool:
        return True  # a Queue is truthy even when empty, unlike its len()

    def empty(self) -> bool:
        """True if no message is ready now."""
        return self.qsize() == 0

    # ---- receiving -------------------------------------------------------
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
        deadline = None if timeout is None else time.monotonic() + _seconds(timeout)
        waiter = self._ready_waiter()  # the fd must exist before recv(0) can arm it
        while True:
            msg = self._try_recv(copy)
            if msg is not None:
                return msg
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise Timeout(f"timed out after {timeout} s waiting on queue '{self.name}'")
            # Due retries and expired leases become ready only when someone runs
            # recovery (shmqd, or recv itself): look again at least every 100 ms.
            await waiter.wait(_ASYNC_RECHECK if left is None else min(left, _ASYNC_RECHECK))

    def __aiter__(self) -> AsyncIterator[Message]:
        """``async for msg in q``: recv_async() forever (until the queue closes)."""
        return self._messages_async()

    async def _messages_async(self) -> AsyncIterator[Message]:
        while True:
            yield await self.recv_async()

    async def send_async(self, data: Any, timeout: Optional[float] = None, *,
                         delay: Any = None, at: Any = None, ttl: Any = None, headers: Any = None,
                         dedup_key: Any = None) -> int:
        """Like send(), for asyncio, without blocking the event loop: a full
        queue (or a dedup key another sender has in flight) is retried after
        pauses growing from 0.5 ms to 20 ms (there is no readiness fd for
        free space). Raises Full at once under the "fail"
        overflow policy, Timeout when ``timeout`` seconds pass. Returns the
        message's id (a SendResult with a dedup_key)."""
        deadline = None if timeout is None else time.monotonic() + _seconds(timeout)
        pause = _SEND_BACKOFF[0]
        while True:
            try:
                return self.send(data, 0, delay=delay, at=at, ttl=ttl, headers=headers, dedup_key=dedup_key)
            except Full:
                if self.params.overflow == "fail":
                    raise
            except Timeout:
                pass  # another sender has the same dedup key in flight: wait for it as for room
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise Timeout(f"timed out after {timeout} s: queue '{self.name}' is full")
            await asyncio.sleep(pause if left is None else min(pause, left))
            pause = min(pause * 2, _SEND_BACKOFF[1])

    def _ready_waiter(self) -> ReadyWaiter:
        if self._waiter is None:
            self._waiter = ReadyWaiter(self, self._ready_fd())
        return self._waiter

    # ---- observing -------------------------------------------------------
    def stats(self) -> Stats:
        """A snapshot of the queue's counts, totals and attached clients."""
        return Stats.from_c(self._stats(self.params.max_clients))

    def recover(self) -> Recovery:
        """Run one recovery pass: reclaim dead clients' and expired leases,
        promote due retries. shmqd does this on a timer when it runs."""
        return Recovery.from_c(self._recover())


def _seconds(timeout: float) -> float:
    if not timeout >= 0:
        raise InvalidArgument(f"timeout must be None or >= 0, got {timeout!r}")
    return timeout
