"""In-process gateway tests: the middleware in front of a small app, on a real Redis."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from gateway import WaitingRoomMiddleware, waiting_room_lifespan
from gateway.runtime import STATE_KEY, Runtime
from gateway.settings import Settings
from waitingroom.config import RoomConfig

BROWSER = {"accept": "text/html,application/xhtml+xml", "accept-language": "id-ID,id;q=0.9"}
JSON = {"accept": "application/json"}

seen: list[dict[str, Any]] = []


async def echo(request: Request) -> Response:
    body = await request.body()
    seen.append(
        {"path": request.url.path, "method": request.method, "headers": dict(request.headers)}
    )
    return JSONResponse(
        {"path": request.url.path, "method": request.method, "body": body.decode(errors="replace")}
    )


async def finish(request: Request) -> Response:
    return PlainTextResponse("done", headers={"X-WR-Command": "release"})


async def ws_echo(websocket: WebSocket) -> None:
    seen.append(
        {"path": websocket.url.path, "method": "WEBSOCKET", "headers": dict(websocket.headers)}
    )
    await websocket.accept()
    await websocket.send_json({"path": websocket.url.path})
    await websocket.close()


def backend_app() -> list[Route | WebSocketRoute]:
    return [
        Route("/finish", finish, methods=["POST", "GET"]),
        Route("/{path:path}", echo, methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]),
        WebSocketRoute("/{path:path}", ws_echo),
    ]


def make_settings(redis_url: str, **room: Any) -> Settings:
    config = RoomConfig(**{"rate_per_minute": 6000, "max_active": 1000, **room})
    return Settings(
        redis_url=redis_url,
        secret_keys=(),
        tick_interval=0.05,
        room=config,
        redis_prefix="wrgw",
    ).with_generated_secret()


def make_app(settings: Settings) -> Starlette:
    return Starlette(
        routes=backend_app(),
        lifespan=waiting_room_lifespan(settings),
        middleware=[Middleware(WaitingRoomMiddleware, settings=settings)],
    )


class User:
    """One person with their own cookie jar, on the gateway's single test client (one event
    loop: the lifespan's Redis pool lives there)."""

    def __init__(self, client: TestClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers
        self.cookies = httpx.Cookies()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        saved = self.client.cookies
        self.client.cookies = self.cookies
        try:
            headers = {**self.headers, **kwargs.pop("headers", {})}
            return self.client.request(method, url, headers=headers, **kwargs)
        finally:
            self.cookies = self.client.cookies
            self.client.cookies = saved

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


class Gateway:
    def __init__(self, client: TestClient) -> None:
        self.client = client

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.client.app_state[STATE_KEY]
        return runtime

    def user(self, headers: dict[str, str] | None = None) -> User:
        return User(self.client, headers or BROWSER)

    def set_config(self, **changes: Any) -> None:
        self.client.portal.call(self._set_config, changes)  # type: ignore[union-attr]

    async def _set_config(self, changes: dict[str, Any]) -> None:
        await self.runtime.store.set_config(changes, actor="test")
        await self.runtime.room.tick()


@pytest.fixture
def gateway_factory(redis_client: Any, redis_url: str) -> Iterator[Any]:
    clients: list[TestClient] = []

    def factory(**room: Any) -> Gateway:
        client = TestClient(make_app(make_settings(redis_url, **room)))
        client.__enter__()
        clients.append(client)
        return Gateway(client)

    seen.clear()
    yield factory
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def gateway(gateway_factory: Any) -> Gateway:
    gw: Gateway = gateway_factory()
    return gw
