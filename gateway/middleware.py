"""WaitingRoomMiddleware: pure ASGI, usable in front of any Starlette or FastAPI app.

Requests with a valid pass go through to the app; everyone else is held in the waiting room:
browsers get the waiting page in place, JSON clients the status JSON, non-GET requests a 429.
Paths under the reserved prefix (default ``/_wr``) are answered here (see ``endpoints``).
WebSocket handshakes follow the same rule (a valid pass or a bypass path); any other is refused
with close code 1008 (policy violation). Lifespan and other scopes pass through unchanged.
The waiting room itself is opened by ``waiting_room_lifespan`` and found in the lifespan state.
"""

from __future__ import annotations

import logging
import time
from itertools import chain
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import metrics
from gateway.endpoints import Endpoints, wants_language
from gateway.http import (
    COMMAND_HEADER,
    ETA_COOKIE,
    PASS_COOKIE,
    TICKET_COOKIE,
    RequestView,
    clear_cookie,
    cookie,
    eta_cookie,
    html_response,
    json_response,
    parse_eta_cookie,
    strip_our_credentials,
)
from gateway.runtime import STATE_KEY, Runtime
from gateway.settings import Settings
from waitingroom.errors import StoreError
from waitingroom.room import Status
from waitingroom.tokens import TICKET_MAX_AGE, Pass

log = logging.getLogger("gateway.middleware")

SAFE_METHODS = frozenset({"GET", "HEAD"})
# uvicorn's httptools parser takes headers of any size: we refuse them here, before any work.
MAX_HEADER_BYTES = 16 * 1024
MAX_HEADERS = 100
# WebSocket close code "policy violation": a handshake without a valid pass.
WS_POLICY_VIOLATION = 1008


def headers_too_large(scope: Scope) -> bool:
    headers = scope["headers"]
    if len(headers) > MAX_HEADERS:
        return True
    return sum(map(len, chain.from_iterable(headers))) > MAX_HEADER_BYTES


def _without_command(send: Send) -> Send:
    async def send_wrapper(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = message.get("headers", [])
            if any(name.lower() == COMMAND_HEADER for name, _ in headers):
                kept = [(n, v) for n, v in headers if n.lower() != COMMAND_HEADER]
                message = {**message, "headers": kept}
        await send(message)

    return send_wrapper


class WaitingRoomMiddleware:
    """Hold everyone without a valid pass in the waiting room.

    ``bypass_paths`` never need a pass (static assets, health checks): an entry ending with "/"
    is a prefix ("/static/" lets "/static/app.css" through), any other entry matches exactly
    that path ("/favicon.ico" lets neither "/favicon.icoX" nor "/favicon.ico/x" through).
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings | None = None,
        bypass_paths: tuple[str, ...] | None = None,
    ) -> None:
        self.app = app
        self.settings = settings or Settings.from_env()
        self.prefix = self.settings.prefix
        bypass = tuple(bypass_paths if bypass_paths is not None else self.settings.bypass_paths)
        self.bypass_prefixes = tuple(p for p in bypass if p.endswith("/"))
        self.bypass_exact = frozenset(p for p in bypass if not p.endswith("/"))
        self.endpoints = Endpoints(self.prefix)

    def _runtime(self, scope: Scope) -> Runtime:
        state: dict[str, Any] = scope.get("state") or {}
        runtime = state.get(STATE_KEY)
        if runtime is None:
            raise RuntimeError(
                "WaitingRoomMiddleware needs the app's lifespan to be waiting_room_lifespan()"
            )
        return runtime  # type: ignore[no-any-return]

    def _is_bypass(self, path: str) -> bool:
        if path in self.bypass_exact:
            return True
        if not self.bypass_prefixes or not path.startswith(self.bypass_prefixes):
            return False
        # Never let a dot-segment ride on a bypass prefix into the backend ("/static/../admin").
        return "/." not in path and "\\" not in path and "%" not in path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if headers_too_large(scope):
            body = {"error": "request headers too large"}
            await json_response(body, 431)(scope, receive, send)
            return
        path: str = scope["path"]
        runtime = self._runtime(scope)
        if path == self.prefix or path.startswith(self.prefix + "/"):
            await self.endpoints(runtime, scope, receive, send)
            return
        if self._is_bypass(path) or runtime.room.snapshot_mode() == "passthrough":
            # No session to end here, but the header is ours: the client never sees it.
            await self.app(strip_our_credentials(scope), receive, _without_command(send))
            return
        request = RequestView(scope)
        wr_pass = runtime.room.read_pass(request.pass_token())
        if wr_pass is not None:
            valid, renewed = await runtime.room.renew(wr_pass)
            if valid:
                cookies = []
                if renewed is not None:
                    lifetime = runtime.room.session_lifetime()
                    cookies.append(cookie(PASS_COOKIE, renewed, lifetime, request.secure))
                await self.forward(runtime, scope, receive, send, wr_pass, cookies)
                return
        await self.hold(runtime, request, scope, receive, send)

    async def websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket handshake: through with a valid pass (cookie or X-WR-Pass) or on a bypass
        path, like any request; refused with 1008 otherwise (no waiting page over a socket)."""
        path: str = scope["path"]
        runtime = self._runtime(scope)
        allowed = False
        reserved = path == self.prefix or path.startswith(self.prefix + "/")
        if not reserved and not headers_too_large(scope):
            if self._is_bypass(path) or runtime.room.snapshot_mode() == "passthrough":
                allowed = True
            else:
                wr_pass = runtime.room.read_pass(RequestView(scope).pass_token())
                if wr_pass is not None:
                    allowed, _ = await runtime.room.renew(wr_pass)
        if allowed:
            await self.app(strip_our_credentials(scope), receive, send)
            return
        metrics.REJECTED.labels("no_pass").inc()
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION, "reason": ""})

    async def forward(
        self,
        runtime: Runtime,
        scope: Scope,
        receive: Receive,
        send: Send,
        wr_pass: Pass,
        cookies: list[bytes],
    ) -> None:
        """Let an admitted user through; act on the backend's X-WR-Command and strip it."""
        secure = scope.get("scheme") == "https"

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = []
                command = b""
                for name, value in message.get("headers", []):
                    if name.lower() == COMMAND_HEADER:
                        command = value.strip().lower()
                        continue
                    headers.append((name, value))
                if command == b"release":
                    await runtime.room.release(wr_pass)
                    headers.append((b"set-cookie", clear_cookie(PASS_COOKIE, secure)))
                    headers.append((b"set-cookie", clear_cookie(TICKET_COOKIE, secure)))
                for value in cookies:
                    headers.append((b"set-cookie", value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(strip_our_credentials(scope), receive, send_wrapper)

    async def hold(
        self, runtime: Runtime, request: RequestView, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """No valid pass: the waiting page, the status JSON, or a 429 for non-GET requests."""
        room = runtime.room
        token = request.ticket_token()
        ticket = room.read_ticket(token)
        cookies: list[bytes] = []
        lang = wants_language(request)
        if request.method not in SAFE_METHODS:
            metrics.REJECTED.labels("no_pass").inc()
            retry = "30"
            if ticket is not None:
                status = await room.status(ticket)
                if status.status == "admitted" and status.pass_token and status.pass_:
                    # Their turn came with this very request: let it through.
                    cookies.append(self._pass_cookie(runtime, status, request))
                    await self.forward(runtime, scope, receive, send, status.pass_, cookies)
                    return
                retry = str(max(1, round(status.poll_after)))
            body: dict[str, object] = {"error": "no valid admission pass", "status": "waiting"}
            headers = {"retry-after": retry}
            if request.wants_json:
                response = json_response(body, 429, headers=headers)
            else:
                page = runtime.pages.error(429, "error_busy", lang)
                response = html_response(page, 429, headers=headers)
            await response(scope, receive, send)
            return
        if ticket is None:
            if token and request.wants_json:
                body = {"error": "invalid ticket", "hint": f"POST {self.prefix}/join"}
                await json_response(body, 400)(scope, receive, send)
                return
            try:
                joined = await room.join()
            except StoreError:
                metrics.REDIS_ERRORS.inc()
                await self.unavailable(runtime, request, scope, receive, send)
                return
            if joined is None:
                status = room.closed_status()
                await self.render(runtime, request, status, cookies, False, 0, scope, receive, send)
                return
            metrics.ARRIVALS.inc()
            ticket = joined.ticket
            cookies.append(cookie(TICKET_COOKIE, joined.token, TICKET_MAX_AGE, request.secure))
            token = joined.token
        last_eta, start = parse_eta_cookie(request.cookies.get(ETA_COOKIE), ticket.position)
        status = await room.status(ticket, last_eta)
        metrics.POLLS.inc()
        if status.status == "admitted" and status.pass_ is not None:
            metrics.ADMISSIONS.inc()
            cookies.append(self._pass_cookie(runtime, status, request))
            if not request.wants_json:
                await self.forward(runtime, scope, receive, send, status.pass_, cookies)
                return
        if status.eta is not None:
            start = start or status.ahead
            cookies += eta_cookie(request, ticket.position, status.eta, start)
        if status.status == "expired":
            # Its turn passed too long ago: drop the stale ticket, the next visit starts afresh.
            cookies.append(clear_cookie(TICKET_COOKIE, request.secure))
            cookies.append(clear_cookie(ETA_COOKIE, request.secure))
        if request.wants_json:
            reply = status.as_json()
            if token and token != request.ticket_token():
                reply["ticket"] = token
            await json_response(reply, 200, cookies, {"x-wr-status": status.status})(
                scope, receive, send
            )
            return
        await self.render(runtime, request, status, cookies, True, start, scope, receive, send)

    def _pass_cookie(self, runtime: Runtime, status: Status, request: RequestView) -> bytes:
        assert status.pass_token is not None
        lifetime = runtime.room.session_lifetime()
        return cookie(PASS_COOKIE, status.pass_token, lifetime, request.secure)

    async def render(
        self,
        runtime: Runtime,
        request: RequestView,
        status: Status,
        cookies: list[bytes],
        has_ticket: bool,
        start: int,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        lang = wants_language(request)
        if request.query_param("lang") == lang:
            cookies.append(cookie("wr_lang", lang, 365 * 86400, request.secure))
        page = runtime.pages.waiting(status, lang, request.path, has_ticket, start, time.time())
        await html_response(page, 200, cookies, {"x-wr-status": status.status})(
            scope, receive, send
        )

    async def unavailable(
        self, runtime: Runtime, request: RequestView, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Redis is unreachable and this newcomer has no ticket: a clear 503, no place lost."""
        headers = {"retry-after": "10"}
        if request.wants_json:
            body = {"error": "the waiting room is temporarily unavailable", "status": "paused"}
            await json_response(body, 503, headers=headers)(scope, receive, send)
            return
        page = runtime.pages.error(503, "error_busy", wants_language(request))
        await html_response(page, 503, headers=headers)(scope, receive, send)
