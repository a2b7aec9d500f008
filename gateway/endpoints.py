"""The reserved paths under the prefix (default ``/_wr``): the public contract of DESIGN.md.

POST /_wr/join     a place in line (idempotent: a valid ticket keeps its place)
GET  /_wr/status   where a ticket stands; sets the pass when admitted
POST /_wr/leave    give up a place (or end a session)
GET  /_wr/healthz  alive;  GET /_wr/readyz  Redis and backend reachable
GET  /_wr/metrics  Prometheus text format
/_wr/admin...      the operators' dashboard and admin API (gateway.admin; off without a token)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gateway import metrics
from gateway.http import (
    ETA_COOKIE,
    LANG_COOKIE,
    PASS_COOKIE,
    TICKET_COOKIE,
    RequestView,
    clear_cookie,
    cookie,
    eta_cookie,
    json_response,
    lean_response,
    parse_eta_cookie,
)
from gateway.i18n import choose_language
from gateway.runtime import Runtime
from waitingroom.errors import StoreError
from waitingroom.tokens import TICKET_MAX_AGE

Handler = Callable[[Runtime, RequestView], Awaitable[Response]]


class EndpointRequest(RequestView):
    """A RequestView that can also read the request body (the admin API takes JSON and forms)."""

    __slots__ = ("_receive",)

    def __init__(self, scope: Scope, receive: Receive) -> None:
        super().__init__(scope)
        self._receive = receive

    async def body(self, limit: int = 64 * 1024) -> bytes | None:
        """The whole body; None when it is larger than ``limit`` bytes or the client went away."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                return None
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def wants_language(request: RequestView) -> str:
    return choose_language(
        request.query_param("lang"),
        request.cookies.get(LANG_COOKIE),
        request.header(b"accept-language"),
    )


MAX_NEXT_LENGTH = 2048
# Kept as they are in a redirect target; anything else (space, non-ASCII) is percent-encoded.
_NEXT_SAFE_CHARS = "/?#[]@!$&'()*+,;=:%~-._"


def _safe_next(value: str | None) -> str:
    """A same-site path to redirect to, else "/": never an open redirect, never a bad header.

    It must start with a single "/" (not "//" nor "/\\", which browsers read as another host),
    hold no backslash and no control character (browsers drop tabs and newlines, and CR LF
    would split the header), and be at most MAX_NEXT_LENGTH long once percent-encoded.
    """
    if not value or len(value) > MAX_NEXT_LENGTH or "\\" in value:
        return "/"
    if not value.startswith("/") or value.startswith("//"):
        return "/"
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in value):
        return "/"
    encoded = quote(value, safe=_NEXT_SAFE_CHARS, errors="replace")
    return encoded if len(encoded) <= MAX_NEXT_LENGTH else "/"


def _unavailable() -> Response:
    metrics.REDIS_ERRORS.inc()
    body = {"error": "the waiting room is temporarily unavailable", "status": "paused"}
    return json_response(body, 503, headers={"retry-after": "10"})


async def join(runtime: Runtime, request: RequestView) -> Response:
    room = runtime.room
    existing = request.ticket_token()
    try:
        joined = await room.join(existing)
        status = await room.status(joined.ticket) if joined is not None else None
        if joined is not None and not joined.fresh and status and status.status == "expired":
            # Its turn passed more than the grace period ago (or its session was used up): as
            # good as no ticket, so joining again means a new place at the end of the line.
            joined = await room.join(None)
            status = await room.status(joined.ticket) if joined is not None else None
    except StoreError:
        return _unavailable()
    if joined is None or status is None:
        return json_response(room.closed_status().as_json(), 200)
    if joined.fresh:
        metrics.ARRIVALS.inc()
    cookies = [cookie(TICKET_COOKIE, joined.token, TICKET_MAX_AGE, request.secure)]
    if status.pass_token is not None:
        metrics.ADMISSIONS.inc()
        cookies.append(
            cookie(PASS_COOKIE, status.pass_token, room.session_lifetime(), request.secure)
        )
    if not request.wants_json and request.query_param("next") is not None:
        # The no-JavaScript "join again" form: back to the page the user was on.
        response = Response(
            status_code=303, headers={"location": _safe_next(request.query_param("next"))}
        )
        for value in cookies:
            response.raw_headers.append((b"set-cookie", value))
        return response
    return lean_response(status.as_json_bytes(joined.token), b"application/json", 200, cookies)


async def status(runtime: Runtime, request: RequestView) -> Response:
    room = runtime.room
    token = request.ticket_token()
    if not token:
        body = {"error": "no ticket", "hint": f"POST {runtime.settings.prefix}/join"}
        return json_response(body, 401)
    ticket = room.read_ticket(token)
    if ticket is None:
        body = {"error": "invalid ticket", "hint": f"POST {runtime.settings.prefix}/join"}
        return json_response(body, 401)
    last_eta, start = parse_eta_cookie(request.cookies.get(ETA_COOKIE), ticket.position)
    result = await room.status(ticket, last_eta)
    metrics.POLLS.inc()
    cookies = []
    if result.pass_token is not None:
        metrics.ADMISSIONS.inc()
        cookies.append(
            cookie(PASS_COOKIE, result.pass_token, room.session_lifetime(), request.secure)
        )
    elif result.eta is not None:
        start = start or result.ahead
        cookies += eta_cookie(request, ticket.position, result.eta, start)
    elif result.status == "expired":
        # The answer still says so (the app tells its user); the stale ticket goes, so the next
        # join starts afresh.
        cookies.extend(clear_cookie(name, request.secure) for name in (TICKET_COOKIE, ETA_COOKIE))
    return lean_response(result.as_json_bytes(), b"application/json", 200, cookies)


async def leave(runtime: Runtime, request: RequestView) -> Response:
    wr_pass = runtime.room.read_pass(request.pass_token())
    ended = False
    if wr_pass is not None:
        ended = await runtime.room.release(wr_pass)
    secure = request.secure
    cookies = [clear_cookie(name, secure) for name in (TICKET_COOKIE, PASS_COOKIE, ETA_COOKIE)]
    return json_response({"status": "left", "session_ended": ended}, 200, cookies)


async def healthz(runtime: Runtime, request: RequestView) -> Response:
    return json_response({"status": "ok"})


async def readyz(runtime: Runtime, request: RequestView) -> Response:
    async def redis_ok() -> bool:
        try:
            return await runtime.store.ping()
        except StoreError:
            return False

    checks = {"redis": redis_ok, **runtime.ready_checks}
    names = list(checks)
    results = await asyncio.gather(*(checks[name]() for name in names))
    body = {name: ("ok" if ok else "unavailable") for name, ok in zip(names, results, strict=True)}
    ready = all(results)
    return json_response({"ready": ready, **body}, 200 if ready else 503)


async def metrics_endpoint(runtime: Runtime, request: RequestView) -> Response:
    data, content_type = metrics.render()
    return Response(data, headers={"content-type": content_type, "cache-control": "no-store"})


class Endpoints:
    """Dispatch of the reserved paths; wrong methods get 405, unknown paths 404."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.routes: dict[str, dict[str, Handler]] = {
            "/join": {"POST": join},
            "/status": {"GET": status},
            "/leave": {"POST": leave},
            "/healthz": {"GET": healthz},
            "/readyz": {"GET": readyz},
            "/metrics": {"GET": metrics_endpoint},
        }
        # Imported here: the admin package builds on this module (EndpointRequest, Handler).
        from gateway.admin.routes import admin_routes

        self.routes.update(admin_routes())

    def add(self, path: str, methods: dict[str, Handler]) -> None:
        self.routes[path] = methods

    async def __call__(self, runtime: Runtime, scope: Scope, receive: Receive, send: Send) -> None:
        request = EndpointRequest(scope, receive)
        sub = request.path[len(self.prefix) :] or "/"
        methods = self.routes.get(sub)
        if methods is None:
            response: Response = json_response({"error": "not found"}, 404)
        else:
            method = request.method
            handler = methods.get(method) or (methods.get("GET") if method == "HEAD" else None)
            if handler is None:
                allow = ", ".join(sorted(methods))
                response = json_response(
                    {"error": "method not allowed"}, 405, headers={"allow": allow}
                )
            else:
                response = await handler(runtime, request)
        await response(scope, receive, send)
