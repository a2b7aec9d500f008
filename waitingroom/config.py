"""The room config: what operators tune while the surge is on.

It lives in Redis (a hash with a version number) so every worker sees a change within a tick;
this module validates values and converts them to and from the hash's strings.
"""

from __future__ import annotations

import math
import re
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
OPENS_AT_MAX = 1e11  # Unix seconds: the year 5138
OPENS_AT_MESSAGE = "must be a Unix time in seconds or null"


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
        or not 0 <= config.opens_at < OPENS_AT_MAX
    ):
        raise ConfigError("opens_at", OPENS_AT_MESSAGE)


# ASCII only: str.isdigit() also accepts "²" or "٣", which int() and float() then refuse or
# misread. Strings longer than MAX_DIGITS are out of every range (and never reach int()).
_INTEGER = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
MAX_DIGITS = 18


def _range_error(name: str) -> ConfigError:
    low, high = _LIMITS[name]
    return ConfigError(name, f"must be an integer from {low} to {high}")


def _coerce_int(name: str, value: Any) -> int:
    """An integer field from JSON (int, integral float) or the Redis hash (ASCII digits)."""
    if isinstance(value, bool):
        raise ConfigError(name, "must be an integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise ConfigError(name, "must be an integer")
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if _INTEGER.fullmatch(text) is None:
            raise ConfigError(name, "must be an integer")
        if len(text.lstrip("-").lstrip("0")) > MAX_DIGITS:
            raise _range_error(name)
        number = int(text)
    else:
        raise ConfigError(name, "must be an integer")
    low, high = _LIMITS[name]
    if not low <= number <= high:
        raise _range_error(name)
    return number


def _coerce_time(name: str, value: Any) -> float | None:
    """A Unix time from JSON (a number) or the Redis hash (an ASCII decimal); "" is None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ConfigError(name, OPENS_AT_MESSAGE)
    if isinstance(value, int):
        if not 0 <= value < OPENS_AT_MAX:  # before float(): 10**400 would overflow
            raise ConfigError(name, OPENS_AT_MESSAGE)
        return float(value)
    if isinstance(value, float):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > 64 or _DECIMAL.fullmatch(text) is None:
            raise ConfigError(name, OPENS_AT_MESSAGE)
        number = float(text)
    else:
        raise ConfigError(name, OPENS_AT_MESSAGE)
    if not math.isfinite(number) or not 0 <= number < OPENS_AT_MAX:
        raise ConfigError(name, OPENS_AT_MESSAGE)
    return number


def _coerce(name: str, value: Any) -> Any:
    """One field's value, checked for type and range; ConfigError (naming it) otherwise."""
    if name == "mode":
        if not isinstance(value, str):
            raise ConfigError(name, "must be a string")
        return value
    if name == "opens_at":
        return _coerce_time(name, value)
    return _coerce_int(name, value)


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
