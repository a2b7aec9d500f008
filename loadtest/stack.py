"""The stack a replay runs against, on free loopback ports: embedded Redis, backend stub, gateway.

``Capacity.for_scale(scale)`` sizes the stand-in backend and the admission rate for a replay at
``scale`` (1.0 = the real 80,000 arrivals a minute), so that the ratio of the surge to what the
backend can serve stays the same at every scale:

- the admission rate is a quarter of the peak arrival rate (the surge is four times what gets in);
- the civil-registry API (the NIK check, the weakest link) keeps the stub's K = 8 parallel calls,
  and its latency is set so that at that admission rate it is 40 % busy (its latency has a long
  tail: a few calls take ten times the median); at scale 0.08 that is the stub's own default
  (median 200 ms); smaller scales get a slower registry, larger ones a faster one;
- ``max_active`` is a minute of admissions (at least 1,000), so the rate is the cap that binds.

Without the gateway (``direct``), the same arrivals hit the stub at four times the rate it was
sized for, and the registry queue times out: the failure of April 2020, replayed.

``Stack`` starts the processes (each one's output in ``<workdir>/<name>.log``) and stops them in
reverse order; use it as a context manager.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from gateway.processes import Child as Process
from gateway.processes import clean_env, start_child
from loadtest.curve import PEAK_PER_MINUTE
from loadtest.funnel import NIK_SHARE
from waitingroom.embedded import EmbeddedRedis, free_port

ROOT = Path(__file__).resolve().parent.parent
# The stack's admin token: loopback only, for the replay to read the room config.
ADMIN_TOKEN = "surge-replay-admin"
ADMIT_FRACTION = 0.25
NIK_CAPACITY = 8
NIK_SIGMA = 0.8
REGISTRY_UTILISATION = 0.4


@dataclass(frozen=True)
class Capacity:
    """What the stand-in backend can take, and the admission rate matched to it."""

    rate_per_minute: int
    nik_capacity: int
    nik_latency_ms: float
    max_active: int
    stub_capacity: int = 64

    @classmethod
    def for_scale(cls, scale: float, admit_fraction: float = ADMIT_FRACTION) -> Capacity:
        rate = max(1, round(PEAK_PER_MINUTE * scale * admit_fraction))
        nik_per_second = NIK_SHARE * rate / 60
        # K calls in parallel, each taking mean = median * exp(sigma^2 / 2) seconds.
        mean_s = REGISTRY_UTILISATION * NIK_CAPACITY / nik_per_second
        median_ms = 1000 * mean_s / math.exp(NIK_SIGMA**2 / 2)
        return cls(
            rate_per_minute=rate,
            nik_capacity=NIK_CAPACITY,
            nik_latency_ms=round(median_ms, 1),
            max_active=max(1000, rate),
        )

    def stub_env(self) -> dict[str, str]:
        return {
            "STUB_CAPACITY": str(self.stub_capacity),
            "STUB_NIK_CAPACITY": str(self.nik_capacity),
            "STUB_NIK_LATENCY_MS": str(self.nik_latency_ms),
            "STUB_NIK_SIGMA": str(NIK_SIGMA),
        }

    def gateway_env(self) -> dict[str, str]:
        return {
            "WR_RATE_PER_MINUTE": str(self.rate_per_minute),
            "WR_MAX_ACTIVE": str(self.max_active),
        }


def start_process(
    name: str, args: list[str], env: dict[str, str], url: str, ready_path: str, workdir: Path
) -> Process:
    return start_child(name, args, env, url, ready_path, workdir / f"{name}.log", ROOT)


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


@dataclass
class Stack:
    """Embedded Redis, backend stub and (unless ``direct``) the gateway, on free loopback ports."""

    workdir: Path
    capacity: Capacity
    direct: bool = False
    gateway_workers: int = 2
    stub_overrides: dict[str, str] = field(default_factory=dict)
    gateway_overrides: dict[str, str] = field(default_factory=dict)
    redis: EmbeddedRedis | None = None
    backend: Process | None = None
    gateway: Process | None = None

    @property
    def target_url(self) -> str:
        """Where the replay sends its applicants."""
        front = self.backend if self.direct else self.gateway
        assert front is not None, "the stack is not running"
        return front.url

    @property
    def backend_url(self) -> str:
        assert self.backend is not None, "the stack is not running"
        return self.backend.url

    def pids(self) -> dict[str, list[int]]:
        """The process ids by role (the gateway's workers are children of its pid)."""
        out: dict[str, list[int]] = {}
        if self.redis is not None and self.redis.process is not None:
            out["redis"] = [self.redis.process.pid]
        if self.backend is not None:
            out["backend stub"] = [self.backend.process.pid]
        if self.gateway is not None:
            out["gateway"] = [self.gateway.process.pid]
        return out

    def start(self) -> Stack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        port = free_port()
        stub_env = clean_env(**{**self.capacity.stub_env(), **self.stub_overrides})
        self.backend = start_process(
            "backend",
            [*_python("from backend_stub.cli import main; main()"), "--port", str(port)],
            stub_env,
            f"http://127.0.0.1:{port}",
            "/_stub/stats",
            self.workdir,
        )
        if self.direct:
            return
        self.redis = EmbeddedRedis(data_dir=self.workdir / "redis").start()
        port = free_port()
        env = clean_env(
            WR_REDIS_URL=self.redis.url,
            WR_BACKEND_URL=self.backend.url,
            WR_SECRET_KEYS="surge-replay-secret",
            WR_DATA_DIR=str(self.workdir / "wr"),
            WR_ADMIN_TOKEN=ADMIN_TOKEN,
            # A client that vanishes mid-upload leaves a proxied request hanging (see the
            # report); a replay's stack need not wait the default 20 s for it at the end.
            WR_SHUTDOWN_TIMEOUT="3",
            **{**self.capacity.gateway_env(), **self.gateway_overrides},
        )
        args = [*_python("from gateway.cli import main; main()"), "serve", "--port", str(port)]
        args += ["--workers", str(self.gateway_workers), "--log-level", "warning"]
        self.gateway = start_process(
            "gateway", args, env, f"http://127.0.0.1:{port}", "/_wr/healthz", self.workdir
        )

    def stop(self) -> None:
        for proc in (self.gateway, self.backend):
            if proc is not None:
                proc.stop()
        if self.redis is not None:
            self.redis.stop()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
