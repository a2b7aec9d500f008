"""A tiny backend for shutdown tests: /slow answers after a delay."""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def slow(request: Request) -> PlainTextResponse:
    await asyncio.sleep(float(request.query_params.get("seconds", "3")))
    return PlainTextResponse("slow done")


async def index(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/slow", slow), Route("/", index)])


async def headers(request: Request) -> PlainTextResponse:
    lines = [f"{k}: {v}" for k, v in request.headers.items()]
    body = await request.body()
    return PlainTextResponse("\n".join([*lines, f"body-bytes: {len(body)}"]))


app.router.add_route("/headers", headers, methods=["GET", "POST"])


RECORDED: list[int] = []


async def record(request: Request) -> PlainTextResponse:
    """Keeps the size of every body it received whole: what a backend would act on."""
    body = await request.body()
    RECORDED.append(len(body))
    return PlainTextResponse(f"recorded {len(body)}")


async def records(request: Request) -> PlainTextResponse:
    return PlainTextResponse(",".join(str(n) for n in RECORDED))


app.router.add_route("/record", record, methods=["POST"])
app.router.add_route("/records", records, methods=["GET"])
