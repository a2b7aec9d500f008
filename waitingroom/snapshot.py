"""The room as a worker caches it: what a status poll compares a ticket against."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from waitingroom.config import RoomConfig


@dataclass(slots=True)
class History:
    """When ``serving`` passed which position: (second, serving at the end of that second).

    Ordered by both fields at once, since serving only grows. Kept for the grace period and a
    little more, so late returners are judged locally, without a Redis round trip.
    """

    seconds: list[int] = field(default_factory=list)
    serving: list[int] = field(default_factory=list)

    def merge(self, entries: list[tuple[int, int]]) -> None:
        for second, serving in entries:
            i = bisect.bisect_left(self.seconds, second)
            if i < len(self.seconds) and self.seconds[i] == second:
                self.serving[i] = max(self.serving[i], serving)
            else:
                self.seconds.insert(i, second)
                self.serving.insert(i, serving)

    def released_at(self, position: int) -> int | None:
        """The second in which ``position`` was released, or None if older than we keep."""
        i = bisect.bisect_left(self.serving, position)
        if i == len(self.serving):
            return None
        return self.seconds[i]

    def trim(self, before_second: int) -> None:
        i = bisect.bisect_left(self.seconds, before_second)
        # Keep one entry before the cut: it marks where the kept range starts.
        if i > 1:
            del self.seconds[: i - 1]
            del self.serving[: i - 1]

    @property
    def last_serving(self) -> int:
        return self.serving[-1] if self.serving else -1


@dataclass(slots=True)
class RoomSnapshot:
    """State read from Redis by one call (the controller tick), cached by each worker."""

    epoch: int
    tail: int
    serving: int
    active: int
    admitted: int
    config: RoomConfig
    server_time: float
    show_ratio: float = 1.0
    # The pre-queue is (prequeue_lo, prequeue_hi]; no pre-queue when lo is None, still open
    # (its size unknown until opening) when hi is None.
    prequeue_lo: int | None = None
    prequeue_hi: int | None = None
    # The random key of the pre-queue's shuffle, drawn when the pre-queue started: the same for
    # every worker and unchanged by a rotation of the signing keys.
    prequeue_seed: str | None = None
    # The room's latest spell of being full (s; 0: never): turns within their grace period when
    # it began are held, their grace period counted from its end.
    full_since: float = 0.0
    last_full: float = 0.0
    history: History = field(default_factory=History)

    @property
    def queue_length(self) -> int:
        return max(0, self.tail - self.serving)
