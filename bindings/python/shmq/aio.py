"""asyncio support: waiting on a queue's readiness fd (shmq_ready_fd).

No worker thread is involved. The protocol is the C header's: a receive with
timeout 0 that finds nothing arms the fd; the coroutine then waits until the
fd is readable (loop.add_reader) and looks again. Readable means "look
again", not "a message is yours". One reader callback per event loop wakes
every coroutine of that loop waiting on the same queue.
"""
from __future__ import annotations

import asyncio
from typing import Any, Optional


class ReadyWaiter:
    """Coroutines waiting for one queue handle's readiness fd, per event loop."""

    def __init__(self, queue: Any, fd: int) -> None:
        self._queue = queue
        self._fd = fd
        self._waiting: dict[asyncio.AbstractEventLoop, set[asyncio.Future[None]]] = {}

    async def wait(self, timeout: Optional[float]) -> None:
        """Return when the fd is readable, the handle closes, or ``timeout`` passes."""
        loop = asyncio.get_running_loop()
        self._queue._enter()  # the fd must stay open while registered
        fut: asyncio.Future[None] = loop.create_future()
        self._add(loop, fut)
        try:
            await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            self._discard(loop, fut)
            self._queue._leave()

    def wake_all_threadsafe(self) -> None:
        """Wake every waiter (used by close(), from any thread)."""
        for loop in list(self._waiting):
            try:
                loop.call_soon_threadsafe(self._wake, loop)
            except RuntimeError:
                pass  # that loop is closed; its waiters are gone with it

    def _add(self, loop: asyncio.AbstractEventLoop, fut: asyncio.Future[None]) -> None:
        futs = self._waiting.setdefault(loop, set())
        if not futs:
            loop.add_reader(self._fd, self._wake, loop)
        futs.add(fut)

    def _discard(self, loop: asyncio.AbstractEventLoop, fut: asyncio.Future[None]) -> None:
        futs = self._waiting.get(loop)
        if futs is None:
            return
        futs.discard(fut)
        if not futs:
            loop.remove_reader(self._fd)
            del self._waiting[loop]

    def _wake(self, loop: asyncio.AbstractEventLoop) -> None:
        for fut in self._waiting.get(loop, ()):
            if not fut.done():
                fut.set_result(None)
