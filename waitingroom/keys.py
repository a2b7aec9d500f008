"""Every Redis key name of the waiting room, in one place.

All keys of one event share the hash tag ``{event}`` so each Lua script touches a single Redis
Cluster slot, and several events (rooms) can share one Redis under one prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EVENT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")


@dataclass(frozen=True, slots=True)
class Keys:
    """The key names of one event."""

    prefix: str
    event: str

    def __post_init__(self) -> None:
        if not EVENT_ID.match(self.event):
            raise ValueError("event id must match [a-z0-9][a-z0-9_-]{0,63}")

    def _key(self, name: str) -> str:
        return f"{self.prefix}:{{{self.event}}}:{name}"

    @property
    def state(self) -> str:
        """Hash: tail, serving, epoch, last_advance_ms, carry, counters."""
        return self._key("state")

    @property
    def config(self) -> str:
        """Hash: the room config and its version."""
        return self._key("config")

    @property
    def sessions(self) -> str:
        """Sorted set: session id -> expiry (ms). Bounded by max_active."""
        return self._key("sessions")

    @property
    def history(self) -> str:
        """Sorted set: second -> value of serving at the end of that second (bounded)."""
        return self._key("history")

    @property
    def redeemed(self) -> str:
        """Hash: second of release -> how many positions released then were redeemed."""
        return self._key("redeemed")

    @property
    def used(self) -> str:
        """Bitmap: bit p set once position p has redeemed its ticket (one bit per admission)."""
        return self._key("used")

    @property
    def audit(self) -> str:
        """Stream: every config change with time, actor, old and new values."""
        return self._key("audit")

    @property
    def workers(self) -> str:
        """Sorted set: worker id -> last heartbeat (ms)."""
        return self._key("workers")

    def all(self) -> list[str]:
        return [
            self.state,
            self.config,
            self.sessions,
            self.history,
            self.redeemed,
            self.used,
            self.audit,
            self.workers,
        ]
