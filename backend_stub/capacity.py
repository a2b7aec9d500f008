"""A FIFO concurrency limiter with a bounded wait queue and a wait timeout.

It is an asyncio semaphore that also knows what an overloaded server knows: how many requests
are being served, how many wait, and the peaks of both. The stub puts one in front of every
request (capacity C) and one in front of the simulated civil-registry API (capacity K).

A released slot is handed straight to the oldest waiter, so a newcomer can never overtake the
queue, and ``in_flight`` never exceeds ``capacity``, not even for an instant.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from backend_stub.clock import Clock
from backend_stub.errors import QueueFull, QueueTimeout


class Limiter:
    def __init__(self, capacity: int, queue_limit: int | None, clock: Clock) -> None:
        """``queue_limit=None`` means the queue is unbounded."""
        self.capacity = capacity
        self.queue_limit = queue_limit
        self._clock = clock
        self._in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self.peak_in_flight = 0
        self.peak_queued = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def queued(self) -> int:
        return len(self._waiters)

    def reset_peaks(self) -> None:
        self.peak_in_flight = self._in_flight
        self.peak_queued = len(self._waiters)

    @asynccontextmanager
    async def slot(self, max_wait: float) -> AsyncIterator[None]:
        """Hold one slot for the ``async with`` body; raise QueueFull or QueueTimeout."""
        await self.acquire(max_wait)
        try:
            yield
        finally:
            self.release()

    async def acquire(self, max_wait: float) -> None:
        """Take a slot, waiting at most ``max_wait`` seconds; raise QueueFull or QueueTimeout."""
        if self._in_flight < self.capacity and not self._waiters:
            self._take()
            return
        if self.queue_limit is not None and len(self._waiters) >= self.queue_limit:
            raise QueueFull
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self.peak_queued = max(self.peak_queued, len(self._waiters))
        try:
            async with self._clock.timeout(max_wait):
                await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                # The slot was handed over just as the timeout (or a disconnect) struck:
                # pass it on rather than leak it.
                self.release()
            else:
                waiter.cancel()
                # A release() may already have dropped the cancelled waiter from the queue.
                with suppress(ValueError):
                    self._waiters.remove(waiter)
            if isinstance(exc, TimeoutError):
                raise QueueTimeout from None
            raise

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot changes hands; in_flight stays the same
                return
        self._in_flight -= 1

    def _take(self) -> None:
        self._in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
