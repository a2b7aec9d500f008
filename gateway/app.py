"""The standalone gateway: WaitingRoomMiddleware in front of a reverse proxy to the backend.

uvicorn gateway.app:create_app --factory     (or: gateway serve)
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from aiolimiter import AsyncLimiter
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send

from gateway.logs import RequestLogMiddleware
from gateway.middleware import WaitingRoomMiddleware
from gateway.proxy import Proxy
from gateway.runtime import STATE_KEY, open_runtime
from gateway.settings import Settings

PROXY_KEY = "proxy"


async def proxy_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    proxy: Proxy = scope["state"][PROXY_KEY]
    await proxy(scope, receive, send)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        limits = httpx.Limits(
            max_connections=settings.backend_pool_size,
            max_keepalive_connections=settings.backend_pool_size,
        )
        timeout = httpx.Timeout(
            connect=settings.backend_connect_timeout,
            read=settings.backend_read_timeout,
            write=settings.backend_read_timeout,
            pool=settings.backend_connect_timeout,
        )
        async with (
            open_runtime(settings) as runtime,
            httpx.AsyncClient(limits=limits, timeout=timeout, follow_redirects=False) as client,
        ):
            limiter = None
            if settings.backend_rps > 0:
                per_worker = max(1.0, settings.backend_rps / max(1, settings.workers))
                # A tenth of a second's worth may go at once; the rest is spread evenly.
                limiter = AsyncLimiter(max(1.0, per_worker / 10), 0.1)
            proxy = Proxy(
                client,
                settings.backend_url,
                runtime.pages,
                limiter,
                settings.backend_max_wait,
                settings.trusted_proxies,
                settings.max_body_bytes,
            )

            async def backend_ok() -> bool:
                try:
                    response = await client.get(settings.backend_url, timeout=2.0)
                except httpx.HTTPError:
                    return False
                return response.status_code < 500

            runtime.ready_checks["backend"] = backend_ok
            yield {STATE_KEY: runtime, PROXY_KEY: proxy}

    return Starlette(
        routes=[Mount("/", app=proxy_endpoint)],
        middleware=[
            Middleware(RequestLogMiddleware),
            Middleware(WaitingRoomMiddleware, settings=settings),
        ],
        lifespan=lifespan,
    )
