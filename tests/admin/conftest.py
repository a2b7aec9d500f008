"""Admin fixtures: an in-process gateway with an admin token (real Redis, flushed per test), and
one real two-worker gateway with a backend stub, shared by the end-to-end admin tests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.datastructures import Secret
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from gateway import WaitingRoomMiddleware, waiting_room_lifespan
from gateway.settings import Settings
from tests.e2e.conftest import Proc, python, start_gateway, start_process, stub_env
from waitingroom.config import RoomConfig
from waitingroom.embedded import EmbeddedRedis, free_port

TOKEN = "admin-token-for-tests-0123456789"
BEARER = {"authorization": f"Bearer {TOKEN}"}
API = "/_wr/admin/api"


async def backend_ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("backend")


def make_client(redis_url: str, admin_token: str | None = TOKEN, **room: Any) -> TestClient:
    settings = Settings(
        redis_url=redis_url,
        secret_keys=(Secret("admin-test-secret"),),
        admin_token=Secret(admin_token) if admin_token else None,
        tick_interval=0.05,
        redis_prefix="wradmin",
        room=RoomConfig(**{"rate_per_minute": 600, "max_active": 100, **room}),
    )
    app = Starlette(
        routes=[Route("/{path:path}", backend_ok)],
        lifespan=waiting_room_lifespan(settings),
        middleware=[Middleware(WaitingRoomMiddleware, settings=settings)],
    )
    return TestClient(app)


@pytest.fixture
def client(redis_client: Any, redis_url: str) -> Iterator[TestClient]:
    with make_client(redis_url) as test_client:
        yield test_client


@pytest.fixture
def client_without_token(redis_client: Any, redis_url: str) -> Iterator[TestClient]:
    with make_client(redis_url, admin_token=None) as test_client:
        yield test_client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF token in the form"
    return match.group(1)


def log_in(client: TestClient, name: str = "ana") -> str:
    """Log the client's cookie jar in through the form; returns the dashboard's CSRF token."""
    form = client.get("/_wr/admin")
    answer = client.post(
        "/_wr/admin/login",
        data={"token": TOKEN, "name": name, "csrf": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    page = client.get("/_wr/admin")
    match = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert match
    return match.group(1)


# -- one real gateway (two workers) for the end-to-end tests ----------------------------------


@dataclass
class Live:
    url: str
    redis_url: str
    gateway: Proc
    backend: Proc

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request on a fresh connection (it may land on either worker)."""
        headers = {**BEARER, **kwargs.pop("headers", {})}
        return httpx.request(
            method, f"{self.url}{API}/{path}", headers=headers, timeout=5, **kwargs
        )


# Package scope: shared by the admin end-to-end modules, stopped before other packages run.
@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("admin-live")
    with EmbeddedRedis(data_dir=tmp / "redis") as redis_server:
        port = free_port()
        backend = start_process(
            [*python("from backend_stub.cli import main; main()"), "--port", str(port)],
            stub_env(STUB_NIK_LATENCY_MS="5", STUB_SEED="1"),
            f"http://127.0.0.1:{port}",
            "/",
            tmp / "backend.log",
        )
        try:
            gateway = start_gateway(
                tmp,
                redis_server.url,
                backend.url,
                workers=2,
                admin_token=TOKEN,
                rate_per_minute="600",
                max_active="100",
            )
            try:
                yield Live(gateway.url, redis_server.url, gateway, backend)
            finally:
                gateway.stop()
                assert "Traceback" not in gateway.output(), gateway.output()[-3000:]
                assert TOKEN not in gateway.output()
        finally:
            backend.stop()
