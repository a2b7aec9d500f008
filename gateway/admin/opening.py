"""Opening times: operators write ISO 8601 with an offset; the room config holds a Unix time."""

from __future__ import annotations

import datetime as dt
import math
import re

# Jakarta time: what the operators of the Prakerja launch read.
WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def parse_when(text: str) -> float:
    """A Unix time from ISO 8601 with a UTC offset ("2026-12-01T08:00+07:00", "...Z") or from
    a plain number of seconds. A time without an offset is refused: it would be ambiguous."""
    value = text.strip()
    if len(value) > 64:
        raise ValueError("too long for a time: ISO 8601 like 2026-12-01T08:00+07:00")
    if _NUMBER.fullmatch(value):  # ASCII only: float() also reads "١٢٣" and "1_0"
        number = float(value)
        if not math.isfinite(number):
            raise ValueError("not a finite number")
        return number
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("expected ISO 8601 like 2026-12-01T08:00+07:00, or Unix seconds") from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("add a UTC offset, e.g. 2026-12-01T08:00+07:00")
    try:
        return when.timestamp()
    except (OverflowError, ValueError):  # a time at the very edge of datetime's range
        raise ValueError("out of range") from None


def iso_wib(timestamp: float | None) -> str | None:
    """The time in WIB (UTC+7) as ISO 8601 with its offset, to the minute or second."""
    if timestamp is None:
        return None
    when = dt.datetime.fromtimestamp(timestamp, WIB)
    spec = "minutes" if when.second == 0 and when.microsecond == 0 else "seconds"
    return when.isoformat(timespec=spec)
