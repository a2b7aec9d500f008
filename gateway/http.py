"""Small HTTP helpers for pure-ASGI code: headers, cookies, content negotiation, responses."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import cookie_parser
from starlette.responses import Response
from starlette.types import Scope

TICKET_COOKIE = "wr_ticket"
PASS_COOKIE = "wr_pass"  # noqa: S105 - a cookie name
ETA_COOKIE = "wr_eta"
LANG_COOKIE = "wr_lang"
TICKET_HEADER = b"x-wr-ticket"
PASS_HEADER = b"x-wr-pass"
COMMAND_HEADER = b"x-wr-command"
OUR_COOKIES = frozenset({TICKET_COOKIE, PASS_COOKIE, ETA_COOKIE, LANG_COOKIE})
# ASCII digits only, bounded: str.isdigit() also takes "²" (the Latin-1 byte 0xB2 in a cookie)
# and other Unicode digits, which int() then refuses.
_ETA_VALUE = re.compile(r"([0-9]{1,11})\.([0-9]{1,11})\.([0-9]{1,11})\.([0-9]{1,11})")


class RequestView:
    """The parts of an ASGI request the gateway looks at, parsed once and lazily."""

    __slots__ = ("_cookies", "headers", "scope")

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name in headers and name == b"cookie":
                headers[name] += b"; " + value
            elif name not in headers:
                headers[name] = value
        self.headers = headers
        self._cookies: dict[str, str] | None = None

    def header(self, name: bytes) -> str | None:
        """A header's value, or None."""
        value = self.headers.get(name)
        return value.decode("latin-1") if value is not None else None

    @property
    def cookies(self) -> dict[str, str]:
        if self._cookies is None:
            raw = self.headers.get(b"cookie")
            self._cookies = cookie_parser(raw.decode("latin-1")) if raw else {}
        return self._cookies

    @property
    def method(self) -> str:
        method: str = self.scope["method"]
        return method

    @property
    def path(self) -> str:
        path: str = self.scope["path"]
        return path

    @property
    def secure(self) -> bool:
        return bool(self.scope.get("scheme") == "https")

    @property
    def wants_json(self) -> bool:
        accept = self.headers.get(b"accept", b"")
        return b"application/json" in accept and b"text/html" not in accept

    def query_param(self, name: str) -> str | None:
        query: bytes = self.scope.get("query_string", b"")
        if not query:
            return None
        # Only the head of a long query: we look for one short parameter, never parse a flood.
        for key, value in parse_qsl(query[:2048].decode("latin-1")):
            if key == name:
                return value
        return None

    def ticket_token(self) -> str | None:
        header = self.headers.get(TICKET_HEADER)
        return header.decode("latin-1") if header else self.cookies.get(TICKET_COOKIE)

    def pass_token(self) -> str | None:
        header = self.headers.get(PASS_HEADER)
        return header.decode("latin-1") if header else self.cookies.get(PASS_COOKIE)


def cookie(name: str, value: str, max_age: int | None, secure: bool) -> bytes:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts).encode("latin-1")


def clear_cookie(name: str, secure: bool) -> bytes:
    return cookie(name, '""', 0, secure)


def strip_our_credentials(scope: Scope) -> Scope:
    """A copy of the scope without our cookies and headers: the backend never sees a token."""
    headers: list[tuple[bytes, bytes]] = []
    changed = False
    for name, value in scope["headers"]:
        if name in (TICKET_HEADER, PASS_HEADER):
            changed = True
            continue
        if name == b"cookie":
            kept = [
                part
                for part in value.decode("latin-1").split(";")
                if part.split("=", 1)[0].strip() not in OUR_COOKIES
            ]
            new_value = ";".join(kept).strip()
            changed = True
            if new_value:
                headers.append((name, new_value.encode("latin-1")))
            continue
        headers.append((name, value))
    if not changed:
        return scope
    return {**scope, "headers": headers}


class LeanResponse(Response):
    """A finished response with its raw headers built directly: on the hot paths (status polls,
    joins, the waiting page) Starlette's header object and charset handling cost more than the
    work itself. Sent exactly like any Starlette Response."""

    def __init__(self, body: bytes, status_code: int, raw_headers: list[tuple[bytes, bytes]]):
        self.body = body
        self.status_code = status_code
        self.raw_headers = raw_headers
        self.background = None


# What Starlette's JSONResponse renders, without its per-call set-up.
_encode_json = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
).encode


def lean_response(
    content: bytes,
    content_type: bytes,
    status_code: int,
    cookies: Iterable[bytes] = (),
    headers: dict[str, str] | None = None,
) -> LeanResponse:
    raw = [
        (b"content-length", str(len(content)).encode()),
        (b"content-type", content_type),
        (b"cache-control", b"no-store"),
    ]
    if headers:
        raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    raw += [(b"set-cookie", value) for value in cookies]
    return LeanResponse(content, status_code, raw)


def json_response(
    body: Any,
    status_code: int = 200,
    cookies: Iterable[bytes] = (),
    headers: dict[str, str] | None = None,
) -> Response:
    content = _encode_json(body).encode("utf-8")
    return lean_response(content, b"application/json", status_code, cookies, headers)


def html_response(
    body: str,
    status_code: int = 200,
    cookies: Iterable[bytes] = (),
    headers: dict[str, str] | None = None,
) -> Response:
    content = body.encode("utf-8")
    return lean_response(content, b"text/html; charset=utf-8", status_code, cookies, headers)


def parse_eta_cookie(value: str | None, position: int) -> tuple[tuple[int, int] | None, int]:
    """The last ETA range shown to this ticket and its 'ahead' count at the first view (for the
    progress bar). The cookie names the position it was shown for: a new ticket starts afresh."""
    if not value:
        return None, 0
    match = _ETA_VALUE.fullmatch(value)
    if match is None:
        return None, 0
    pos, low, high, start = map(int, match.groups())
    if pos != position:
        return None, 0
    return ((low, high) if low <= high else None), start


def eta_cookie(
    request: RequestView, position: int, eta: tuple[int, int], start: int
) -> list[bytes]:
    """The Set-Cookie carrying the ETA shown, or none when the browser holds that value already
    (most polls near the front and far from it: fewer bytes for phones and for us)."""
    value = f"{position}.{eta[0]}.{eta[1]}.{start}"
    if request.cookies.get(ETA_COOKIE) == value:
        return []
    return [cookie(ETA_COOKIE, value, 7 * 24 * 3600, request.secure)]
