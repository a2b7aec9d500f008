"""The ceilings the gateway's hot paths are measured against, on the same stack.

    GET /ok     a bare Starlette route answering "ok": the ceiling of any route on this stack
    GET /incr   a bare Starlette route doing one Redis INCR: the ceiling of anything that needs
                one Redis round trip (same redis-py pool settings as ``gateway.runtime``)

Served by uvicorn with the arguments ``gateway serve`` passes to ``uvicorn.run`` (loop and http
left on "auto": uvloop and httptools when installed, as they are with ``uvicorn[standard]``).

    python -m bench.baseline_app --port 8100 --redis-url redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from gateway.runtime import redis_client

COUNTER_KEY = "bench:incr"


async def ok(request: Request) -> Response:
    return PlainTextResponse("ok")


async def incr(request: Request) -> Response:
    value = await request.state.redis.incr(COUNTER_KEY)
    return PlainTextResponse(str(value))


def create_app(redis_url: str) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        client = redis_client(redis_url)  # the gateway's own client and pool
        try:
            yield {"redis": client}
        finally:
            await client.aclose()

    return Starlette(routes=[Route("/ok", ok), Route("/incr", incr)], lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    args = parser.parse_args()
    # The uvicorn.run arguments of gateway/cli.py (serve), minus those only a gateway has.
    uvicorn.run(
        create_app(args.redis_url),
        host=args.host,
        port=args.port,
        workers=1,
        proxy_headers=False,  # the gateway's value without WR_TRUSTED_PROXIES
        log_config=None,
        access_log=False,
        server_header=False,
        lifespan="on",
    )


if __name__ == "__main__":
    main()
