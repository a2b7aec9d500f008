"""The clock seam: every sleep, timeout and latency measurement of the stub goes through a Clock.

``Clock(speed=1.0)`` is real time. A faster clock (``speed=50``) runs the whole model, service
times, registry latencies and queue timeouts alike, 50 times faster while every figure it
reports (stats latencies) stays in simulated time, so tests keep realistic settings and finish
quickly. Tests that prefer real time simply use small latencies.
"""

from __future__ import annotations

import asyncio
import time


class Clock:
    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed

    def now(self) -> float:
        """Simulated seconds on a monotonic scale (only differences mean anything)."""
        return time.monotonic() * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    def timeout(self, seconds: float) -> asyncio.Timeout:
        """An ``async with`` block that raises TimeoutError after ``seconds`` simulated seconds."""
        return asyncio.timeout(max(0.0, seconds) / self.speed)
