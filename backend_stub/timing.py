"""Pure ASGI middleware that counts every funnel request by step and status, and times it.

It sits outside the throttle, so the latency includes the time spent queueing for a slot and
503s are counted like any other answer. ``/_stub/*`` is neither counted nor timed.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend_stub.runtime import Runtime
from backend_stub.stats import step_name
from backend_stub.throttle import UNLIMITED_PREFIX


class TimingMiddleware:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNLIMITED_PREFIX):
            await self.app(scope, receive, send)
            return
        clock, stats = self.runtime.clock, self.runtime.stats
        step = step_name(scope["method"], scope["path"])
        start = clock.now()
        recorded = False

        async def timed_send(message: Message) -> None:
            nonlocal recorded
            if message["type"] == "http.response.start" and not recorded:
                recorded = True
                stats.record(step, message["status"], (clock.now() - start) * 1000)
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            if not recorded:  # the app failed before answering: the server will send a 500
                stats.record(step, 500, (clock.now() - start) * 1000)
