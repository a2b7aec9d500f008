"""Pure ASGI middleware: the stub's capacity C, its wait queue and its service time.

Every request except ``/_stub/*`` must hold one of C slots while it is handled. Without a free
slot it waits, first come first served, at most ``queue_timeout`` seconds; when the queue is
already ``queue_limit`` long it is refused at once. Both refusals are a 503 with Retry-After.

Holding the slot, the request first spends its service time (the stub's own work, which grows
with the queue behind it), then runs the handler, which for the NIK step includes the wait for
the civil registry: a slow registry thus ties up the stub's slots, the way it did in 2020.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from backend_stub import render
from backend_stub.errors import ApiError, Overloaded
from backend_stub.runtime import Runtime

UNLIMITED_PREFIX = "/_stub/"


class ThrottleMiddleware:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNLIMITED_PREFIX):
            await self.app(scope, receive, send)
            return
        rt = self.runtime
        try:
            await rt.gate.acquire(rt.settings.queue_timeout)
        except Overloaded as exc:
            rt.stats.record_overload(exc.reason)
            retry = rt.retry_after(rt.settings.queue_timeout)
            error = ApiError(503, "overloaded", headers={"Retry-After": retry})
            response = render.error(Request(scope, receive), error)
            await response(scope, receive, send)
            return
        try:
            await rt.clock.sleep(rt.service_seconds(rt.gate.queued))
            await self.app(scope, receive, send)
        finally:
            rt.gate.release()
