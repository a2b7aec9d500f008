"""A small per-worker history of the room, sampled on each controller tick (no Redis cost).

One sample per second is kept for a little over 15 minutes: the admission rate over the last
minute and the dashboard's chart come from here. Counters (tail, serving, admitted, active) are
the room's, shared by all workers, so every worker draws the same chart; the backend figures are
this worker's own share of the proxied traffic, which is a fair sample of the whole.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway import metrics
from waitingroom.room import Room
from waitingroom.snapshot import RoomSnapshot

KEEP_SECONDS = 16 * 60


@dataclass(frozen=True, slots=True)
class Backend:
    """This worker's backend counters since it started (Prometheus values, cumulative)."""

    requests: float = 0.0
    errors: float = 0.0
    timed: float = 0.0
    seconds: float = 0.0
    # (upper bound in seconds, cumulative count) of the latency histogram
    buckets: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True, slots=True)
class Sample:
    time: float  # the Redis server's clock, seconds
    epoch: int
    tail: int
    serving: int
    admitted: int
    active: int
    backend: Backend


def read_backend() -> Backend:
    """This process's values of the proxy's metrics (cheap: no files, no aggregation)."""
    requests = errors = timed = seconds = 0.0
    buckets: list[tuple[float, float]] = []
    for metric in metrics.PROXIED.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                requests += sample.value
                if sample.labels.get("status", "").startswith("5"):
                    errors += sample.value
    for metric in metrics.BACKEND_LATENCY.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count"):
                timed = sample.value
            elif sample.name.endswith("_sum"):
                seconds = sample.value
            elif sample.name.endswith("_bucket"):
                buckets.append((float(sample.labels["le"]), sample.value))
    return Backend(requests, errors, timed, seconds, tuple(buckets))


def _p95(old: Backend, new: Backend) -> float | None:
    """The upper bound of the bucket holding the 95th percentile over (old, new]."""
    total = new.timed - old.timed
    if total <= 0 or len(old.buckets) != len(new.buckets):
        return None
    for (bound, before), (_, after) in zip(old.buckets, new.buckets, strict=True):
        if after - before >= 0.95 * total:
            return bound if bound != float("inf") else None
    return None


class Sampler:
    def __init__(
        self, keep: float = KEEP_SECONDS, backend: Callable[[], Backend] = read_backend
    ) -> None:
        self.keep = keep
        self.samples: deque[Sample] = deque()
        self._backend = backend
        # When this worker first saw the current config version (Redis clock): propagation.
        self.config_version = 0
        self.config_seen_at: float | None = None

    def observe(self, room: Room) -> None:
        """The controller's on_tick hook."""
        if room.snapshot is not None:
            self.observe_snapshot(room.snapshot)

    def observe_snapshot(self, snap: RoomSnapshot) -> None:
        if snap.config.version != self.config_version:
            self.config_version = snap.config.version
            self.config_seen_at = snap.server_time
        sample = Sample(
            snap.server_time,
            snap.epoch,
            snap.tail,
            snap.serving,
            snap.admitted,
            snap.active,
            self._backend(),
        )
        samples = self.samples
        if samples and (sample.epoch != samples[-1].epoch or sample.time < samples[-1].time):
            samples.clear()  # the event was reset: its counters start again from zero
        if samples and int(samples[-1].time) == int(sample.time):
            samples[-1] = sample
        else:
            samples.append(sample)
        while samples[0].time < sample.time - self.keep:
            samples.popleft()

    def at(self, time: float) -> Sample | None:
        """The last sample taken at or before ``time``."""
        i = bisect.bisect_right(self.samples, time, key=lambda s: s.time)
        return self.samples[i - 1] if i else None

    def rates(self, window: float = 60.0) -> dict[str, Any]:
        """Per-minute rates and backend health over the last ``window`` seconds (or less)."""
        out: dict[str, Any] = {
            "window_seconds": 0.0,
            "arrivals_per_minute": None,
            "releases_per_minute": None,
            "admissions_per_minute": None,
            "backend": {
                "requests_per_second": None,
                "latency_ms_avg": None,
                "latency_ms_p95": None,
                "error_rate": None,
                "scope": "this worker",
            },
        }
        if not self.samples:
            return out
        new = self.samples[-1]
        old = self.at(new.time - window) or self.samples[0]
        span = new.time - old.time
        if span < 1.0:
            return out
        out["window_seconds"] = round(span, 1)
        out["arrivals_per_minute"] = round((new.tail - old.tail) * 60 / span, 1)
        out["releases_per_minute"] = round((new.serving - old.serving) * 60 / span, 1)
        out["admissions_per_minute"] = round((new.admitted - old.admitted) * 60 / span, 1)
        b_old, b_new = old.backend, new.backend
        requests = b_new.requests - b_old.requests
        timed = b_new.timed - b_old.timed
        backend = out["backend"]
        backend["requests_per_second"] = round(requests / span, 2)
        if requests > 0:
            backend["error_rate"] = round((b_new.errors - b_old.errors) / requests, 4)
        if timed > 0:
            backend["latency_ms_avg"] = round((b_new.seconds - b_old.seconds) / timed * 1000, 1)
            p95 = _p95(b_old, b_new)
            backend["latency_ms_p95"] = None if p95 is None else round(p95 * 1000, 1)
        return out

    def series(self, window: float = 900.0, step: float | None = None) -> list[dict[str, Any]]:
        """Points every ``step`` seconds over the last ``window``, ending at the newest sample:
        arrivals and admissions per minute (over the step before each point), queue, active.

        Without a step, about 180 points over the history there is (1 s apart while it is young,
        5 s apart once it spans the 15 minutes)."""
        if not self.samples:
            return []
        newest, oldest = self.samples[-1], self.samples[0]
        if step is None:
            step = float(max(1, math.ceil(min(window, newest.time - oldest.time) / 180)))
        times = [newest.time]
        t = (newest.time // step) * step
        if t == newest.time:
            t -= step
        while t >= max(oldest.time, newest.time - window):
            times.append(t)
            t -= step
        points = []
        for t in reversed(times):
            now, before = self.at(t), self.at(t - step) or oldest
            if now is None or now.time <= before.time:
                continue
            span = now.time - before.time
            points.append(
                {
                    "t": round(now.time, 3),
                    "arrivals": round((now.tail - before.tail) * 60 / span, 1),
                    "admissions": round((now.admitted - before.admitted) * 60 / span, 1),
                    "queue": max(0, now.tail - now.serving),
                    "active": now.active,
                }
            )
        return points
