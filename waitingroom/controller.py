"""The admission controller: a background task in every worker, leaderless.

Every ~250 ms (with jitter, so workers spread out) it runs the `advance` script, which releases
positions by elapsed time, and caches the returned snapshot for the status polls. Because the
script is atomic and time-based, N workers release what one would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable

from waitingroom.errors import StoreError
from waitingroom.room import Room

log = logging.getLogger("waitingroom.controller")


class Controller:
    def __init__(
        self,
        room: Room,
        interval: float = 0.25,
        on_tick: Callable[[Room], None] | None = None,
        on_error: Callable[[], None] | None = None,
    ) -> None:
        self.room = room
        self.interval = interval
        self.on_tick = on_tick
        self.on_error = on_error
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.errors = 0

    async def start(self) -> None:
        """Tick once (so the first request sees a snapshot), then keep ticking in the background."""
        try:
            await self.room.ensure_config()
            await self.room.tick()
        except StoreError as exc:
            self.errors += 1
            log.warning("controller could not reach redis at start: %s", exc)
        # Keep a hard reference: the event loop only holds weak references to tasks.
        self._task = asyncio.create_task(self._run(), name="wr-controller")

    async def _run(self) -> None:
        failing = False
        while not self._stopping.is_set():
            try:
                await self.room.tick()
                if self.on_tick is not None:
                    self.on_tick(self.room)
                if failing:
                    log.info("controller reconnected to redis")
                failing = False
            except StoreError as exc:
                self.errors += 1
                if self.on_error is not None:
                    self.on_error()
                if not failing:
                    log.warning("controller tick failed: %s", exc)
                failing = True
            except Exception:
                self.errors += 1
                log.exception("controller tick crashed")
            delay = self.interval * random.uniform(0.8, 1.2)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    async def stop(self) -> None:
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            try:
                await asyncio.wait_for(task, timeout=2.0)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
