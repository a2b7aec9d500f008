"""One load-generating process (the local runner, or a worker): it turns the arrivals the shape
sends into people, keeps their records and reports them to the master.

Why arrivals are not Locust's user count: the runner reconciles the number of *running* users
with the target it was dispatched, so a user that stops itself is replaced at the next change
of target, and in distributed mode the master computes the target from per-worker counts that
are up to a report interval old (locust issue #2906): workers would overspawn, or stop (kill)
waiting applicants to meet a target below their live count. So the shape's ``tick()`` keeps
Locust's own target at zero and sends each node the arrivals due in the coming second (a plan
per person, with its instant); the node starts one user per arrival at that instant, into the
runner's own user group (so Locust counts, reports and stops them), and the user stops itself
when done. Nothing ever replaces or kills a person before the replay ends.
"""

from __future__ import annotations

import gc
import logging
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import WorkerRunner

from loadtest.records import Record
from loadtest.settings import Settings
from loadtest.users import Applicant, Attacker, Person

log = logging.getLogger("loadtest.node")

ARRIVE = "surge:arrive"
FINISH = "surge:finish"
RECORDS = "surge:records"
FLUSH_EVERY = 2.0


class GcPauses:
    """How long Python's garbage collector stopped this process: every request in flight at
    the time looks that much slower to Locust."""

    def __init__(self) -> None:
        self.longest = 0.0
        self.total = 0.0
        self.count = 0
        self._started = 0.0
        self._thresholds: tuple[int, ...] = ()

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started:
            took = time.perf_counter() - self._started
            self.longest = max(self.longest, took)
            self.total += took
            self.count += 1

    def start(self) -> None:
        self.longest = self.total = 0.0
        self.count = 0
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)
        # Fewer, not longer, collections: with thousands of users alive, Python's defaults
        # (700, 10, 10) stop the process many times a second, and a full collection of a big
        # heap for a good part of a second, which Locust would count as response time.
        gc.collect()
        gc.freeze()  # what was loaded before the replay is never garbage: skip it
        self._thresholds = gc.get_threshold()
        gc.set_threshold(20_000, 20, 100)

    def stop(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)
        if self._thresholds:
            gc.set_threshold(*self._thresholds)
            gc.unfreeze()

    def summary(self) -> dict[str, float]:
        return {
            "longest_ms": self.longest * 1000,
            "total_ms": self.total * 1000,
            "count": self.count,
        }


@dataclass(frozen=True, slots=True)
class Plan:
    """One person, as the shape planned them."""

    index: int  # the arrival's index in the surge (unique over all nodes)
    kind: str  # applicant | abandoner | attacker
    attack: str  # the attacker's trick
    depth: int  # the last funnel step an applicant completes
    abandon_after: int  # polls an abandoner makes before walking away
    due_at: float  # wall-clock instant of the arrival, per the curve
    run: int  # tags e-mail addresses and NIKs of this replay

    def row(self) -> list[Any]:
        return [
            self.index,
            self.kind,
            self.attack,
            self.depth,
            self.abandon_after,
            self.due_at,
            self.run,
        ]


class Node:
    def __init__(self, environment: Environment, settings: Settings) -> None:
        self.environment = environment
        self.settings = settings
        self.records: dict[int, Record] = {}
        self.dirty: set[int] = set()
        self.dead_passes: deque[str] = deque(maxlen=500)
        self.timers: set[gevent.Greenlet] = set()
        self.flusher: gevent.Greenlet | None = None
        self.accepting = False
        # Set when the replay ends: a user stopped before that was killed by the runner.
        self.finishing = False
        self.pauses = GcPauses()

    @property
    def index(self) -> int:
        runner = self.environment.runner
        return int(getattr(runner, "worker_index", 0) or 0)

    def start(self) -> None:
        """A new test: forget the last one's people and start reporting."""
        self.pauses.start()
        self.records.clear()
        self.dirty.clear()
        self.dead_passes.clear()
        self.accepting = True
        if isinstance(self.environment.runner, WorkerRunner) and self.flusher is None:
            self.flusher = gevent.spawn(self._flush_loop)

    def arrive(self, plans: Iterable[tuple[float, Plan]]) -> None:
        """Start one user per plan, ``delay`` seconds from now."""
        for delay, plan in plans:
            timer = gevent.spawn_later(max(0.0, delay), self._spawn, plan)
            self.timers.add(timer)
            timer.link(self.timers.discard)

    def _spawn(self, plan: Plan) -> None:
        runner = self.environment.runner
        if not self.accepting or runner is None:
            return
        cls: type[Person] = Attacker if plan.kind == "attacker" else Applicant
        user = cls(self.environment)
        user.plan = plan
        user.node = self
        user.record = Record(
            id=plan.index,
            kind=plan.kind,
            node=self.index,
            attack=plan.attack,
            depth=plan.depth,
            due_at=plan.due_at,
        )
        self.records[plan.index] = user.record
        self.dirty.add(plan.index)
        # The runner's own group: Locust counts these users, reports them, stops them at the end.
        user.start(runner.user_greenlets)

    def touch(self, record: Record) -> None:
        self.dirty.add(record.id)

    def stop_arrivals(self) -> None:
        self.accepting = False
        for timer in list(self.timers):
            timer.kill(block=False)
        self.timers.clear()

    def rows(self, everything: bool = False) -> list[list[Any]]:
        ids = list(self.records) if everything else list(self.dirty)
        self.dirty.clear()
        return [self.records[i].row() for i in ids if i in self.records]

    def flush(self, final: bool = False) -> None:
        """Send the records changed since the last flush (all of them when final) to the master."""
        runner = self.environment.runner
        if runner is None:
            return
        rows = self.rows(everything=final)
        data: dict[str, Any] = {"node": self.index, "rows": rows, "final": final}
        if final:
            data["pauses"] = self.pauses.summary()
        runner.send_message(RECORDS, data)

    def _flush_loop(self) -> None:
        while True:
            gevent.sleep(FLUSH_EVERY)
            if self.accepting and self.dirty:
                try:
                    self.flush()
                except Exception:
                    log.exception("could not send records to the master")

    def finish(self) -> None:
        """The replay is over here (the users are stopped): no more arrivals; report everyone."""
        self.stop_arrivals()
        self.pauses.stop()
        self.flush(final=True)
        log.info("node %d: reported %d people", self.index, len(self.records))
