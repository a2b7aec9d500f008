"""Everything one stub instance holds, built once per app and reachable from every request.

None of it is a pool or a connection: it is plain in-memory state, so it is built with the app
(rather than in the lifespan) and works even under a test transport that skips the lifespan.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from starlette.requests import HTTPConnection
from starlette.templating import Jinja2Templates

from backend_stub.capacity import Limiter
from backend_stub.clock import Clock
from backend_stub.registry import CivilRegistry
from backend_stub.settings import StubSettings
from backend_stub.stats import Stats
from backend_stub.store import Store


@dataclass(slots=True)
class Runtime:
    settings: StubSettings
    clock: Clock
    rng: random.Random
    store: Store
    stats: Stats
    gate: Limiter  # capacity C, in front of every funnel request
    registry: CivilRegistry  # capacity K, behind the NIK step
    templates: Jinja2Templates
    started: float

    @classmethod
    def build(cls, settings: StubSettings, clock: Clock | None = None) -> Runtime:
        if not settings.templates_dir.is_dir():
            raise FileNotFoundError(f"no templates directory at {settings.templates_dir}")
        clock = clock or Clock()
        rng = random.Random(settings.seed)
        return cls(
            settings=settings,
            clock=clock,
            rng=rng,
            store=Store(),
            stats=Stats(settings.stats_window),
            gate=Limiter(settings.capacity, settings.queue_limit, clock),
            registry=CivilRegistry(
                settings.nik_capacity,
                settings.nik_latency_ms,
                settings.nik_sigma,
                settings.nik_timeout,
                clock,
                rng,
            ),
            templates=Jinja2Templates(directory=settings.templates_dir),
            started=clock.now(),
        )

    def service_seconds(self, queued: int) -> float:
        """One request's own work: the base time, varied, plus the drag of the queue behind it.

        An overloaded server slows down as its backlog grows (context switches, memory, lock
        contention); the queue penalty models that with a cost per waiting request.
        """
        s = self.settings
        jitter = 1.0 + s.service_jitter * self.rng.uniform(-1.0, 1.0)
        return (s.service_ms * jitter + s.queue_penalty_ms * queued) / 1000

    def retry_after(self, seconds: float) -> str:
        return str(max(1, math.ceil(seconds)))


def runtime(conn: HTTPConnection) -> Runtime:
    rt: Runtime = conn.app.state.runtime
    return rt
