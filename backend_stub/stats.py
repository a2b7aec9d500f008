"""Counters and latency reservoirs behind ``GET /_stub/stats``.

Requests are counted by step (``"POST /nik"``, ...) and status code. Latencies (milliseconds,
in the clock's simulated time, measured from the first byte of the request to the response
start, queueing included) are kept per step in a bounded reservoir: the last ``window`` samples,
so memory stays flat however long a load test runs and the percentiles describe recent load.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict, deque
from typing import Any

# The paths of the funnel; anything else is counted as "other" so that scanners cannot grow
# the stats without bound.
FUNNEL_PATHS = frozenset({"/", "/register", "/verify-email", "/nik", "/photo", "/batch"})
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def step_name(method: str, path: str) -> str:
    if path in FUNNEL_PATHS and method in _METHODS:
        return f"{method} {path}"
    return "other"


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted, non-empty list."""
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


class Stats:
    def __init__(self, window: int = 10_000) -> None:
        self.window = window
        self.reset()

    def reset(self) -> None:
        self.requests: defaultdict[str, Counter[int]] = defaultdict(Counter)
        self.latencies: defaultdict[str, deque[float]] = defaultdict(
            lambda: deque(maxlen=self.window)
        )
        self.overload: Counter[str] = Counter()

    def record(self, step: str, status: int, latency_ms: float) -> None:
        self.requests[step][status] += 1
        self.latencies[step].append(latency_ms)

    def record_overload(self, reason: str) -> None:
        """``queue_full`` or ``queue_timeout`` (503s) or ``nik_timeout`` (504s)."""
        self.overload[reason] += 1

    def snapshot(self) -> dict[str, Any]:
        latency: dict[str, dict[str, float | int]] = {}
        for step, samples in sorted(self.latencies.items()):
            if not samples:
                continue
            ordered = sorted(samples)
            latency[step] = {
                "samples": len(ordered),
                "p50": round(percentile(ordered, 0.50), 2),
                "p95": round(percentile(ordered, 0.95), 2),
                "p99": round(percentile(ordered, 0.99), 2),
                "max": round(ordered[-1], 2),
            }
        rejected_503 = self.overload["queue_full"] + self.overload["queue_timeout"]
        return {
            "requests": {
                step: {str(code): n for code, n in sorted(codes.items())}
                for step, codes in sorted(self.requests.items())
            },
            "total_requests": sum(sum(codes.values()) for codes in self.requests.values()),
            "latency_ms": latency,
            "overload": {
                "rejected_503": rejected_503,
                "queue_full": self.overload["queue_full"],
                "queue_timeout": self.overload["queue_timeout"],
                "timeout_504": self.overload["nik_timeout"],
            },
        }
