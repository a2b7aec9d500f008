"""The room config: what operators tune while the surge is on.

It lives in Redis (a hash with a version number) so every worker sees a change within a tick;
this module validates values and converts them to and from the hash's strings.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from waitingroom.errors import ConfigError

MODES = ("queue", "passthrough", "pause", "closed")


@dataclass(frozen=True, slots=True)
class RoomConfig:
    """One room's tunables. ``opens_at`` is a Unix time in seconds, or None (open now)."""

    mode: str = "queue"
    rate_per_minute: int = 600
    max_active: int = 500
    session_lifetime: int = 600
    grace_period: int = 300
    opens_at: float | None = None
    version: int = 0

    def __post_init__(self) -> None:
        validate(self)

    def to_redis(self) -> dict[str, str]:
        out = {}
        for f in fields(self):
            if f.name == "version":
                continue
            value = getattr(self, f.name)
            out[f.name] = "" if value is None else str(value)
        return out

    @classmethod
    def from_redis(cls, raw: dict[str, str]) -> RoomConfig:
        base = cls()
        if not raw:
            return base
        changes = {k: v for k, v in raw.items() if k in _FIELD_NAMES}
        return parse_changes(base, changes, version=int(raw.get("version", "0") or 0))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_FIELD_NAMES = {f.name for f in fields(RoomConfig)} - {"version"}
_LIMITS: dict[str, tuple[int, int]] = {
    "rate_per_minute": (0, 10_000_000),
    "max_active": (1, 10_000_000),
    "session_lifetime": (10, 86_400),
    "grace_period": (0, 86_400),
}


def validate(config: RoomConfig) -> None:
    if config.mode not in MODES:
        raise ConfigError("mode", f"must be one of {', '.join(MODES)}")
    for name, (low, high) in _LIMITS.items():
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(name, f"must be an integer from {low} to {high}")
    if config.opens_at is not None and (
        isinstance(config.opens_at, bool)
        or not isinstance(config.opens_at, int | float)
        or not math.isfinite(config.opens_at)
        or not 0 <= config.opens_at < 1e11
    ):
        raise ConfigError("opens_at", "must be a Unix time in seconds or null")


def _coerce(name: str, value: Any) -> Any:
    if name == "mode":
        if not isinstance(value, str):
            raise ConfigError(name, "must be a string")
        return value
    if name == "opens_at":
        if value is None or value == "":
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(name, "must be a Unix time in seconds or null") from None
        return number
    if isinstance(value, bool):
        raise ConfigError(name, "must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ConfigError(name, "must be an integer")


def parse_changes(
    base: RoomConfig, changes: dict[str, Any], version: int | None = None
) -> RoomConfig:
    """Apply ``changes`` (from JSON or the Redis hash) to ``base``; ConfigError names the field."""
    unknown = set(changes) - _FIELD_NAMES
    if unknown:
        name = sorted(unknown)[0]
        raise ConfigError(name, "unknown field")
    coerced = {name: _coerce(name, value) for name, value in changes.items()}
    if version is not None:
        coerced["version"] = version
    return replace(base, **coerced)
