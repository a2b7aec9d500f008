"""The standalone gateway: WaitingRoomMiddleware in front of a reverse proxy to the backend.

uvicorn gateway.app:create_app --factory     (or: gateway serve)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiolimiter import AsyncLimiter
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send

from gateway.logs import RequestLogMiddleware, configure
from gateway.middleware import WaitingRoomMiddleware
from gateway.proxy import Proxy
from gateway.runtime import STATE_KEY, open_runtime
from gateway.settings import Settings

PROXY_KEY = "proxy"


async def proxy_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    proxy: Proxy = scope["state"][PROXY_KEY]
    await proxy(scope, receive, send)


def create_served_app() -> Starlette:
    """The factory `gateway serve` hands to uvicorn: each worker sets up its JSON logs first."""
    configure(os.environ.get("WR_LOG_LEVEL", "INFO"), os.environ.get("WR_ACCESS_LOG") == "1")
    return create_app()


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        connector = aiohttp.TCPConnector(
            limit=settings.backend_pool_size, keepalive_timeout=30, enable_cleanup_closed=True
        )
        timeout = aiohttp.ClientTimeout(
            sock_connect=settings.backend_connect_timeout,
            sock_read=settings.backend_read_timeout,
        )
        async with (
            open_runtime(settings) as runtime,
            aiohttp.ClientSession(
                connector=connector,
                timeout=timeout,
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept", "Content-Type"),
            ) as session,
        ):
            limiter = None
            if settings.backend_rps > 0:
                per_worker = max(1.0, settings.backend_rps / max(1, settings.workers))
                # A tenth of a second's worth may go at once (a second's worth when that is
                # under one request); the rest is spread evenly.
                period = 0.1 if per_worker >= 10 else 1.0
                limiter = AsyncLimiter(per_worker * period, period)
            proxy = Proxy(
                session,
                settings.backend_url,
                runtime.pages,
                limiter,
                settings.backend_max_wait,
                settings.trusted_proxies,
                settings.max_body_bytes,
            )

            async def backend_ok() -> bool:
                try:
                    probe = aiohttp.ClientTimeout(total=2.0)
                    async with session.get(settings.backend_url, timeout=probe) as response:
                        return response.status < 500
                except (aiohttp.ClientError, TimeoutError):
                    return False

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
