"""The stub's own exceptions, so handlers and middleware deal with one tree.

    StubError
    ├── Overloaded          no slot became free for the request
    │   ├── QueueFull       the wait queue was already full: refused at once
    │   └── QueueTimeout    waited the whole timeout without getting a slot
    ├── UpstreamTimeout     the civil-registry API had no free slot in time (rendered as 504)
    └── ApiError            the request is refused: a status code, a message code and, for
        │                   bad input, one message code per field
        └── ValidationFailed    422 with one message code per invalid field

Message codes are keys of ``backend_stub.i18n.MESSAGES``; they are translated when rendered.
"""

from __future__ import annotations

from collections.abc import Mapping


class StubError(Exception):
    """Base class of every error raised by the stub."""


class Overloaded(StubError):
    """No capacity slot was granted."""

    reason = "overloaded"


class QueueFull(Overloaded):
    reason = "queue_full"


class QueueTimeout(Overloaded):
    reason = "queue_timeout"


class UpstreamTimeout(StubError):
    """The simulated civil-registry API could not take the call within its timeout."""


class ApiError(StubError):
    def __init__(
        self,
        status_code: int,
        code: str,
        fields: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status_code} {code}")
        self.status_code = status_code
        self.code = code
        self.fields: dict[str, str] = dict(fields or {})
        self.headers: dict[str, str] = dict(headers or {})


class ValidationFailed(ApiError):
    """422 with one message code per invalid field."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        super().__init__(422, "validation_failed", fields)
