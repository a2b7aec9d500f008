"""The stub's one settings object: capacities, latencies and limits.

Every knob has a default, an environment variable (prefix ``STUB_``) and a command-line flag
(see ``backend_stub.cli``). Construct ``StubSettings(...)`` plainly in tests, or load it once
from the environment with ``StubSettings.from_env()``.

Fields, their environment variables and defaults::

    capacity          STUB_CAPACITY          64       requests served at once (C)
    queue_limit       STUB_QUEUE_LIMIT       256      requests waiting for a slot; beyond: 503
    queue_timeout     STUB_QUEUE_TIMEOUT     2.0      seconds a request waits for a slot; then 503
    service_ms        STUB_SERVICE_MS        5.0      base service time of every request
    service_jitter    STUB_SERVICE_JITTER    0.5      the service time varies uniformly by +-50 %
    queue_penalty_ms  STUB_QUEUE_PENALTY_MS  0.5      extra service ms per request in the queue
    nik_capacity      STUB_NIK_CAPACITY      8        concurrent civil-registry calls (K)
    nik_latency_ms    STUB_NIK_LATENCY_MS    200.0    median civil-registry latency (lognormal)
    nik_sigma         STUB_NIK_SIGMA         0.8      lognormal shape: the length of the tail
    nik_timeout       STUB_NIK_TIMEOUT       3.0      seconds to wait for a registry slot; then 504
    photo_max_bytes   STUB_PHOTO_MAX_BYTES   2097152  largest accepted photo; beyond: 413
    expose_tokens     STUB_EXPOSE_TOKENS     1        send the e-mail token in X-Stub-Email-Token
    seed              STUB_SEED              (none)   seed of the random latencies
    stats_window      STUB_STATS_WINDOW      10000    latency samples kept per step
    templates_dir     STUB_TEMPLATES_DIR     (repo)   where the Jinja2 templates live
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

ENV_PREFIX = "STUB_"
DEFAULT_TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates" / "stub"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"expected one of {sorted(_TRUE | _FALSE)}, got {raw!r}")


@dataclass(frozen=True, slots=True)
class StubSettings:
    capacity: int = 64
    queue_limit: int = 256
    queue_timeout: float = 2.0
    service_ms: float = 5.0
    service_jitter: float = 0.5
    queue_penalty_ms: float = 0.5
    nik_capacity: int = 8
    nik_latency_ms: float = 200.0
    nik_sigma: float = 0.8
    nik_timeout: float = 3.0
    photo_max_bytes: int = 2 * 1024 * 1024
    expose_tokens: bool = True
    seed: int | None = None
    stats_window: int = 10_000
    templates_dir: Path = DEFAULT_TEMPLATES_DIR

    def __post_init__(self) -> None:
        checks: list[tuple[str, bool]] = [
            ("capacity", self.capacity >= 1),
            ("queue_limit", self.queue_limit >= 0),
            ("queue_timeout", self.queue_timeout >= 0),
            ("service_ms", self.service_ms >= 0),
            ("service_jitter", 0 <= self.service_jitter <= 1),
            ("queue_penalty_ms", self.queue_penalty_ms >= 0),
            ("nik_capacity", self.nik_capacity >= 1),
            ("nik_latency_ms", self.nik_latency_ms >= 0),
            ("nik_sigma", self.nik_sigma >= 0),
            ("nik_timeout", self.nik_timeout >= 0),
            ("photo_max_bytes", self.photo_max_bytes >= 1),
            ("stats_window", self.stats_window >= 1),
        ]
        for name, ok in checks:
            if not ok:
                raise ValueError(f"{name} out of range: {getattr(self, name)!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StubSettings:
        """Read every ``STUB_<FIELD>`` variable that is set; the rest keep their defaults."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = ENV_PREFIX + f.name.upper()
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                continue
            try:
                values[f.name] = _CONVERTERS[f.name](raw.strip())
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return cls(**values)

    def public(self) -> dict[str, Any]:
        """The settings as JSON-friendly values (for /_stub/stats and the startup log)."""
        return {
            f.name: str(v) if isinstance(v := getattr(self, f.name), Path) else v
            for f in fields(self)
        }


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "capacity": int,
    "queue_limit": int,
    "queue_timeout": float,
    "service_ms": float,
    "service_jitter": float,
    "queue_penalty_ms": float,
    "nik_capacity": int,
    "nik_latency_ms": float,
    "nik_sigma": float,
    "nik_timeout": float,
    "photo_max_bytes": int,
    "expose_tokens": parse_bool,
    "seed": int,
    "stats_window": int,
    "templates_dir": Path,
}
