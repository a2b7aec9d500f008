"""Fixtures for the backend stub's in-process tests.

``stub(**settings)`` opens an app with its lifespan running and an httpx client on an
ASGITransport (Starlette's TestClient is not used: with httpx it warns, and warnings are errors).
Defaults make every sleep tiny; capacity tests override what they measure.
``Funnel`` walks an applicant through the steps over JSON.
"""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import date
from typing import Any

import httpx
import pytest

from backend_stub.app import create_app
from backend_stub.nik import make_nik
from backend_stub.settings import StubSettings

FAST: dict[str, Any] = {
    "service_ms": 0.0,
    "queue_penalty_ms": 0.0,
    "nik_latency_ms": 1.0,
    "nik_sigma": 0.0,
    "seed": 1234,
}
JSON = {"accept": "application/json"}
BORN = date(1990, 5, 17)
KK = "3201012345678901"


def tiny_png(width: int = 1, height: int = 1) -> bytes:
    """A real, decodable PNG (white RGB pixels), built without an imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\xff\xff\xff" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG_1X1 = tiny_png()
_serials = itertools.count(1)


def fresh_nik(born: date = BORN, female: bool = False) -> str:
    """A valid NIK no other test has used (the store is per app, but be safe)."""
    n = next(_serials)
    return make_nik(born, female=female, district=1 + n // 9999, serial=1 + n % 9999)


@asynccontextmanager
async def open_stub(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(StubSettings(**{**FAST, **overrides}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://stub") as client:
            yield client


StubFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def stub() -> StubFactory:
    return open_stub


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with open_stub() as c:
        yield c


class Funnel:
    """One applicant walking the funnel over JSON."""

    _emails = itertools.count(1)

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.id = ""
        self.token = ""
        self.email_token = ""
        self.nik = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"account_id": self.id, "account_token": self.token}

    async def register(self, email: str | None = None) -> httpx.Response:
        email = email or f"pelamar{next(self._emails)}@contoh.id"
        body = {"name": "Siti Rahayu", "email": email, "password": "rahasia123"}
        r = await self.client.post("/register", json=body)
        if r.status_code == 201:
            self.id, self.token = r.json()["id"], r.json()["account_token"]
            self.email_token = r.headers["x-stub-email-token"]
        return r

    async def verify(self) -> httpx.Response:
        return await self.client.get(
            "/verify-email", params={"token": self.email_token}, headers=JSON
        )

    async def verified(self) -> Funnel:
        assert (await self.register()).status_code == 201
        assert (await self.verify()).status_code == 200
        return self

    async def submit_nik(self, **fields: str) -> httpx.Response:
        self.nik = fields.get("nik", "") or fresh_nik()
        body = {"nik": self.nik, "kk": KK, "date_of_birth": BORN.isoformat()}
        body.update(fields)
        return await self.client.post("/nik", json={**self.auth, **body})

    async def upload(
        self, content: bytes = PNG_1X1, content_type: str = "image/png"
    ) -> httpx.Response:
        files = {"photo": ("ktp.png", content, content_type)}
        return await self.client.post("/photo", data=self.auth, files=files, headers=JSON)

    async def join(self, batch: str = "gelombang-1") -> httpx.Response:
        return await self.client.post("/batch", json={**self.auth, "batch": batch})


@pytest.fixture
def funnel(client: httpx.AsyncClient) -> Callable[[], Funnel]:
    return lambda: Funnel(client)


@pytest.fixture
def new_nik() -> Callable[..., str]:
    return fresh_nik


@pytest.fixture
def png() -> bytes:
    return PNG_1X1


@pytest.fixture
def funnel_factory() -> type[Funnel]:
    """``Funnel`` itself, for tests that open their own stub: ``funnel_factory(client)``."""
    return Funnel
