"""Structured logs: one JSON object per line, a request id on every request (propagated to the
backend as X-Request-ID). Tokens, cookies and secrets are never logged."""

from __future__ import annotations

import json
import logging
import os
import random
import re
import sys
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

access = logging.getLogger("gateway.access")
# Request ids: an instance of its own, so that nothing else's random sequence is disturbed.
_ids = random.Random()
# Reseeded in a forked child (gunicorn --preload and the like), as the global instance is.
os.register_at_fork(after_in_child=_ids.seed)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
        return json.dumps(entry, separators=(",", ":"))


def configure(level: str = "INFO", access_log: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    access.setLevel(logging.INFO if access_log else logging.WARNING)


# Kept when a client or a proxy in front sends one: printable ASCII, no spaces, bounded.
_sane_id = re.compile(rb"[\x21-\x7e]{1,64}").fullmatch


class RequestLogMiddleware:
    """Give every request an id (kept from X-Request-ID when sane) and log it when it ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Decided once (Starlette builds middleware at the first request, after configure()):
        # asking the logger on every request cost 2 % of a status poll (bench/profile.py).
        self.log_all = access.isEnabledFor(logging.INFO)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        given = [value for name, value in headers if name == b"x-request-id"]
        if len(given) == 1 and _sane_id(given[0]):
            request_id = bytes(given[0])  # kept as it is, and the scope with it
        else:
            # Unique, not secret: a 64-bit random id is cheap (uuid4 cost more than the rest of
            # this middleware on the status-poll hot path).
            request_id = b"%016x" % _ids.getrandbits(64)
            if given:
                headers = [(n, v) for n, v in headers if n != b"x-request-id"]
            scope = {**scope, "headers": [*headers, (b"x-request-id", request_id)]}
        started = time.perf_counter()
        status = 0

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"x-request-id", request_id)],
                }
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if self.log_all or status >= 500:
                access.log(
                    logging.ERROR if status >= 500 else logging.INFO,
                    "request",
                    extra={
                        "fields": {
                            "request_id": request_id.decode(),
                            "method": scope["method"],
                            # The path only: query strings may carry tokens.
                            "path": scope["path"][:200],
                            "status": status,
                            "ms": round((time.perf_counter() - started) * 1000, 1),
                        }
                    },
                )
