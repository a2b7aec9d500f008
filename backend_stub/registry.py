"""The simulated civil-registry (Dukcapil) API that the NIK step calls.

In April 2020 this was the weakest link: the ministry's servers answering the NIK checks could
take only so many calls at once. The simulation allows at most K calls at a time; a call waits
up to ``nik_timeout`` seconds for one of them, then fails with UpstreamTimeout (the stub answers
504). Each call takes a lognormal time: median ``nik_latency_ms``, shape ``nik_sigma`` (0.8 puts
p99 at about 6.4 times the median), capped at 50 times the median so one unlucky draw cannot
hold a slot for minutes.

The registry knows every structurally valid NIK: the stub models capacity, not data quality.
"""

from __future__ import annotations

import math
import random

from backend_stub.capacity import Limiter
from backend_stub.clock import Clock
from backend_stub.errors import QueueTimeout, UpstreamTimeout

_TAIL_CAP = 50.0


class CivilRegistry:
    def __init__(
        self,
        capacity: int,
        median_ms: float,
        sigma: float,
        timeout: float,
        clock: Clock,
        rng: random.Random,
    ) -> None:
        self.limiter = Limiter(capacity, queue_limit=None, clock=clock)
        self.median_ms = median_ms
        self.sigma = sigma
        self.timeout = timeout
        self.calls = 0
        self.timeouts = 0
        self._clock = clock
        self._rng = rng

    def latency_ms(self) -> float:
        if self.median_ms <= 0:
            return 0.0
        sample = self._rng.lognormvariate(math.log(self.median_ms), self.sigma)
        return min(sample, self.median_ms * _TAIL_CAP)

    async def check(self, nik: str) -> bool:
        """Ask the registry whether ``nik`` exists; raise UpstreamTimeout when it is saturated."""
        self.calls += 1
        try:
            async with self.limiter.slot(self.timeout):
                await self._clock.sleep(self.latency_ms() / 1000)
        except QueueTimeout:
            self.timeouts += 1
            raise UpstreamTimeout from None
        return True

    def reset(self) -> None:
        self.calls = 0
        self.timeouts = 0
        self.limiter.reset_peaks()

    def snapshot(self) -> dict[str, int]:
        return {
            "capacity": self.limiter.capacity,
            "in_flight": self.limiter.in_flight,
            "peak_in_flight": self.limiter.peak_in_flight,
            "queued": self.limiter.queued,
            "peak_queued": self.limiter.peak_queued,
            "calls": self.calls,
            "timeouts": self.timeouts,
        }
