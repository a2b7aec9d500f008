"""The waiting room's own exceptions, so callers handle one tree.

WaitingRoomError
├── StoreError                 the Redis store failed (connection, timeout, script error)
│   └── StoreUnavailable       Redis could not be reached at all
├── TokenError                 a ticket or pass did not verify
│   ├── BadToken               malformed, forged, tampered or signed for another purpose
│   └── ExpiredToken           signed by us, but too old
├── ConfigError                a room config value is invalid (carries the field name)
├── VersionConflict            a config change was based on a stale version
└── EmbeddedRedisError         the embedded redis-server could not be started
"""

from __future__ import annotations


class WaitingRoomError(Exception):
    """Base class of every error raised by the waiting room."""


class StoreError(WaitingRoomError):
    """The Redis store failed."""


class StoreUnavailable(StoreError):
    """Redis could not be reached."""


class TokenError(WaitingRoomError):
    """A ticket or pass did not verify."""


class BadToken(TokenError):
    """Malformed, forged, tampered, or signed for another purpose."""


class ExpiredToken(TokenError):
    """Signed by us, but past its lifetime."""


class ConfigError(WaitingRoomError):
    """An invalid room config value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class VersionConflict(WaitingRoomError):
    """The config changed since the version the caller based its change on."""

    def __init__(self, current_version: int) -> None:
        super().__init__(f"config is at version {current_version}")
        self.current_version = current_version


class EmbeddedRedisError(WaitingRoomError):
    """The embedded redis-server could not be found or started."""
