"""The C queue handle and who is using it.

shmq_close() unmaps the segment, so it must not run while another thread is
inside a C call on the handle, an asyncio waiter watches its readiness fd, or
a zero-copy view still points into the segment. Each of those holds a *use*;
close() only withdraws the handle from new callers, and whoever drops the last
use detaches. In-flight calls are counted with list append/pop, which are
atomic under the GIL and cost no lock on the hot path.
"""
from __future__ import annotations

import ctypes
import os
import threading
import weakref
from typing import Optional

from ._lib import lib
from .errors import Closed

_live: "weakref.WeakSet[Handle]" = weakref.WeakSet()


class Handle:
    """A shmq_queue pointer with use counting; see the module comment."""

    __slots__ = ("ptr", "busy", "_views", "_closing", "_lock", "__weakref__")

    def __init__(self, ptr: ctypes.c_void_p) -> None:
        self.ptr: Optional[ctypes.c_void_p] = ptr  # None once closed (or inherited via fork)
        # One entry per C call or async wait in progress. Hot paths may inline
        # enter()/leave(): append, read ptr ... pop, then maybe_detach() if ptr is None.
        self.busy: list[None] = []
        self._views = 0                 # zero-copy buffers alive
        self._closing: Optional[ctypes.c_void_p] = None  # awaiting shmq_close
        self._lock = threading.Lock()
        _live.add(self)

    def enter(self) -> ctypes.c_void_p:
        """Start a use; returns the pointer or raises Closed. Pair with leave()."""
        self.busy.append(None)
        ptr = self.ptr
        if ptr is None:
            self.leave()
            raise Closed("queue handle is closed")
        return ptr

    def leave(self) -> None:
        self.busy.pop()
        if self.ptr is None:
            self.maybe_detach()

    def add_view(self) -> None:
        with self._lock:
            self._views += 1

    def drop_view(self) -> None:
        with self._lock:
            self._views -= 1
        if self.ptr is None:
            self.maybe_detach()

    def close(self) -> None:
        """Withdraw the handle; the C handle is closed once the last use ends."""
        with self._lock:
            if self.ptr is None:
                return
            self._closing, self.ptr = self.ptr, None
        self.maybe_detach()

    @property
    def closed(self) -> bool:
        return self.ptr is None

    def maybe_detach(self) -> None:
        """After close(): detach if nothing uses the handle any more."""
        with self._lock:
            ptr = self._closing
            if ptr is None or self.busy or self._views:
                return
            self._closing = None
        lib.shmq_close(ptr)

    def _forget(self) -> None:
        """In a forked child: the record belongs to the parent, never detach it."""
        self.ptr = None
        self._closing = None
        self._lock = threading.Lock()


def _after_fork_in_child() -> None:
    for handle in list(_live):
        handle._forget()


os.register_at_fork(after_in_child=_after_fork_in_child)
