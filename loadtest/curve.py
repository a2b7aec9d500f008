"""The surge's arrival curve: a declarative stage table, scaled, and its exact arrival instants.

The rate is piecewise linear over the stages (fractions of the replay's duration, rates as
fractions of the peak), so the expected number of arrivals by time t is piecewise quadratic and
can be inverted exactly: arrival k (0-based) happens when that number reaches k + 1/2. Arrivals
are thus spread evenly within every second instead of coming in one burst at each tick, and
they do not depend on how fast anything answers (an open model, like a crowd).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

# The coordinating minister, 13 April 2020: "80,000 registrants within one minute".
PEAK_PER_MINUTE = 80_000


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    until: float  # end of the stage, as a fraction of the replay's duration
    start: float  # arrival rate when the stage starts, as a fraction of the peak
    end: float  # arrival rate when it ends (linear in between)


STAGES: tuple[Stage, ...] = (
    Stage("ramp", until=0.20, start=0.0, end=1.0),
    Stage("hold", until=0.50, start=1.0, end=1.0),
    Stage("decay", until=1.00, start=1.0, end=0.1),
)


@dataclass(frozen=True, slots=True)
class _Segment:
    t0: float
    t1: float
    r0: float  # arrivals per second at t0
    r1: float
    n0: float  # expected arrivals before t0

    def expected(self, t: float) -> float:
        tau = t - self.t0
        slope = (self.r1 - self.r0) / (self.t1 - self.t0)
        return self.n0 + self.r0 * tau + slope * tau * tau / 2

    def instant(self, n: float) -> float:
        """The time in this segment at which ``expected`` reaches ``n``."""
        c = n - self.n0
        if c <= 0:
            return self.t0
        half_slope = (self.r1 - self.r0) / (self.t1 - self.t0) / 2
        # tau = 2c / (r0 + sqrt(r0^2 + 4 a c)): the stable root, also for a < 0 and r0 = 0.
        root = math.sqrt(max(0.0, self.r0 * self.r0 + 4 * half_slope * c))
        if self.r0 + root == 0:
            return self.t1
        return min(self.t1, self.t0 + 2 * c / (self.r0 + root))


class SurgeCurve:
    """Arrivals per second over ``duration`` seconds, peaking at ``scale`` x 80,000 a minute."""

    def __init__(
        self,
        scale: float,
        duration: float,
        stages: Sequence[Stage] = STAGES,
        peak_per_minute: float = PEAK_PER_MINUTE,
    ) -> None:
        if scale <= 0 or duration <= 0:
            raise ValueError("scale and duration must be positive")
        if not stages or abs(stages[-1].until - 1.0) > 1e-9:
            raise ValueError("the last stage must end at 1.0 (the whole duration)")
        self.scale = scale
        self.duration = duration
        self.stages = tuple(stages)
        self.peak = peak_per_minute * scale / 60
        segments: list[_Segment] = []
        t0, n0 = 0.0, 0.0
        for stage in self.stages:
            t1 = stage.until * duration
            if t1 <= t0:
                raise ValueError(f"stage {stage.name!r} ends before it starts")
            segment = _Segment(t0, t1, stage.start * self.peak, stage.end * self.peak, n0)
            segments.append(segment)
            t0, n0 = t1, segment.expected(t1)
        self._segments = tuple(segments)
        self.total = n0

    def _segment(self, t: float) -> _Segment:
        for segment in self._segments:
            if t < segment.t1:
                return segment
        return self._segments[-1]

    def stage(self, t: float) -> Stage:
        return self.stages[self._segments.index(self._segment(t))]

    def rate(self, t: float) -> float:
        """Arrivals per second at ``t`` seconds into the replay."""
        if t < 0 or t >= self.duration:
            return 0.0
        s = self._segment(t)
        return s.r0 + (s.r1 - s.r0) * (t - s.t0) / (s.t1 - s.t0)

    def expected(self, t: float) -> float:
        """Arrivals expected in [0, t)."""
        if t <= 0:
            return 0.0
        if t >= self.duration:
            return self.total
        return self._segment(t).expected(t)

    def instant(self, k: int) -> float:
        """When arrival ``k`` (0-based) happens."""
        n = k + 0.5
        for segment in self._segments:
            if n <= segment.expected(segment.t1):
                return segment.instant(n)
        return self.duration

    def arrivals(self, start: int, until: float) -> Iterator[tuple[int, float]]:
        """(index, time) of the arrivals from index ``start`` that happen before ``until``."""
        k = start
        last = math.floor(self.total - 0.5)
        while k <= last:
            t = self.instant(k)
            if t >= until:
                return
            yield k, t
            k += 1
