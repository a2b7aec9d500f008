"""Honest wait estimates and poll advice.

The estimate is ``ahead / smoothed admission rate``, shown as a range. Between two polls of the same
ticket the range never goes up (the caller carries the last shown range back to us). Poll advice
is rare when far from the front (up to 60 s) and frequent near it (down to 2 s), with about 15 %
jitter so that a crowd which joined together does not poll together.
"""

from __future__ import annotations

import random
from collections import deque

MIN_POLL = 2.0
MAX_POLL = 60.0
JITTER = 0.15
# The range: the rate may turn out this much better or worse than measured.
SPREAD = 0.2


class RateEstimator:
    """Smoothed positions released per second, from (time, serving, tail) samples of the last
    minute.

    Releases measure the rate only while people were waiting for them: when the queue ran dry
    in the window, the controller released fewer than it could, and the measurement would make
    the next arrival's estimate too long (or, in a room that was idle, infinite). Then the
    estimate is at least the configured rate.
    """

    def __init__(self, window: float = 60.0) -> None:
        self.window = window
        self._samples: deque[tuple[float, int]] = deque()
        self._dry_at = float("-inf")  # when the queue was last seen empty

    def observe(self, now: float, serving: int, tail: int | None = None) -> None:
        if self._samples and serving < self._samples[-1][1]:
            self._samples.clear()  # a reset of the event: start measuring afresh
        if tail is not None and tail <= serving:
            self._dry_at = now
        self._samples.append((now, serving))
        while len(self._samples) > 2 and self._samples[1][0] <= now - self.window:
            self._samples.popleft()

    def rate(self, configured_per_minute: int, floor_when_dry: bool = True) -> float:
        """Released per second; the configured rate until there is a measurement worth having."""
        configured = configured_per_minute / 60.0
        if len(self._samples) < 2:
            return configured
        (t0, s0), (t1, s1) = self._samples[0], self._samples[-1]
        span = t1 - t0
        if span < 5.0:
            return configured
        measured = (s1 - s0) / span
        # Blend towards the measurement as the window fills: a young window is noisy.
        weight = min(1.0, span / self.window)
        blended = weight * measured + (1 - weight) * configured
        if floor_when_dry and self._dry_at >= t0:
            return max(blended, configured)  # the queue ran dry: supply, not the rate, limited
        return blended


def estimate(
    ahead: int, rate_per_second: float, last: tuple[int, int] | None = None
) -> tuple[int, int] | None:
    """ETA range in seconds, never above the last range shown; None when no estimate is honest."""
    if ahead <= 0:
        return (0, 0)
    if rate_per_second <= 0:
        return None
    center = ahead / rate_per_second
    low = int(center * (1 - SPREAD))
    high = int(center * (1 + SPREAD)) + 1
    if last is not None:
        low = min(low, last[0])
        high = min(high, last[1])
        low = min(low, high)
    return (low, high)


def poll_after(eta_seconds: float | None, rng: random.Random | None = None) -> float:
    """How long a client should wait before polling again."""
    far = MAX_POLL / 2 if eta_seconds is None else eta_seconds / 10
    base = min(MAX_POLL, max(MIN_POLL, far))
    jitter = (rng or random).uniform(1 - JITTER, 1 + JITTER)
    return round(min(MAX_POLL, max(MIN_POLL, base * jitter)), 2)
