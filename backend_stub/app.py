"""The stub's ASGI app: ``create_app(settings=None)``, usable as a uvicorn factory::

    uvicorn backend_stub.app:create_app --factory --port 8001

Without settings it reads the ``STUB_*`` environment (see ``backend_stub.settings``). Tests may
pass a faster ``Clock`` (see ``backend_stub.clock``).

Routes (HTML by default, JSON for JSON bodies or ``Accept: application/json``):

    GET  /                  landing page
    GET  /register          registration form          POST /register     create the account
    GET  /verify-email?token=...                        verify the e-mail address
    GET  /nik               NIK form                   POST /nik          check the NIK
    GET  /photo             upload form                POST /photo        upload the photo
    GET  /batch             the batches                POST /batch        join one (releases)
    GET  /_stub/stats       counters (unlimited)       POST /_stub/reset  clear them

Middleware, outermost first: Starlette's error handler, timing (counts every answer, 503s
included), throttle (capacity C and its queue), then Starlette's exception handling, which
renders every ApiError and HTTPException as a clear 4xx/5xx in the negotiated format.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend_stub import admin, render, signup, steps
from backend_stub.clock import Clock
from backend_stub.errors import ApiError
from backend_stub.i18n import STATUS_CODES
from backend_stub.runtime import Runtime
from backend_stub.settings import StubSettings
from backend_stub.throttle import ThrottleMiddleware
from backend_stub.timing import TimingMiddleware

logger = logging.getLogger("backend_stub")

BOTH = ["GET", "POST"]
ROUTES = [
    Route("/", signup.landing, methods=["GET"]),
    Route("/register", signup.register, methods=BOTH),
    Route("/verify-email", signup.verify_email, methods=["GET"]),
    Route("/nik", steps.nik, methods=BOTH),
    Route("/photo", steps.photo, methods=BOTH),
    Route("/batch", steps.batch, methods=BOTH),
    Route("/_stub/stats", admin.stats, methods=["GET"]),
    Route("/_stub/reset", admin.reset, methods=["POST"]),
]


async def on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return render.error(request, exc)


async def on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = STATUS_CODES.get(exc.status_code, "bad_request")
    return render.error(request, ApiError(exc.status_code, code, headers=exc.headers))


async def on_server_error(request: Request, exc: Exception) -> Response:
    return render.error(request, ApiError(500, "internal_error"))


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    rt: Runtime = app.state.runtime
    s = rt.settings
    logger.info(
        "backend stub up: capacity C=%d (queue %d, %.1fs), NIK API K=%d (median %.0f ms, "
        "timeout %.1fs), registrations kept in memory only",
        s.capacity,
        s.queue_limit,
        s.queue_timeout,
        s.nik_capacity,
        s.nik_latency_ms,
        s.nik_timeout,
    )
    yield
    logger.info("backend stub down: funnel %s", rt.store.funnel())


def create_app(settings: StubSettings | None = None, *, clock: Clock | None = None) -> Starlette:
    rt = Runtime.build(settings or StubSettings.from_env(), clock)
    app = Starlette(
        routes=ROUTES,
        middleware=[
            Middleware(TimingMiddleware, runtime=rt),
            Middleware(ThrottleMiddleware, runtime=rt),
        ],
        exception_handlers={
            ApiError: on_api_error,
            HTTPException: on_http_exception,
            Exception: on_server_error,
        },
        lifespan=lifespan,
    )
    app.state.runtime = rt
    return app
