"""The streaming reverse proxy to the registration backend (aiohttp).

aiohttp was chosen by measurement (``python -m bench.proxy_client``): on this stack it moved
several times more requests per second than httpx for the same CPU (its parser is in C), and the
client's CPU cost is paid inside the gateway's event loop.

Request and response bodies are streamed; hop-by-hop headers are removed; X-Forwarded-For,
-Proto and -Host are set (the client address comes from a trusted proxy only); backend failures
become a friendly 502/503/504 (JSON for JSON clients). An aiolimiter ceiling caps requests per
second to the backend per worker, as a safety valve behind admission: a request that would wait
longer than a short bound gets 503 with Retry-After instead of piling up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from urllib.parse import quote

import aiohttp
from aiolimiter import AsyncLimiter
from starlette.types import Receive, Scope, Send
from yarl import URL

from gateway import metrics
from gateway.http import RequestView, html_response, json_response
from gateway.i18n import choose_language
from gateway.pages import Pages

log = logging.getLogger("gateway.proxy")

# RFC 9110 section 7.6.1, plus headers that describe the connection to us, not to the backend.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
    }
)


class BodyTooLarge(Exception):
    pass


def _is_digits(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) <= 18


class ClientGone(Exception):
    """The client disconnected before its request body was complete."""


class Proxy:
    """An ASGI app forwarding every request to ``backend_url``."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        backend_url: str,
        pages: Pages,
        limiter: AsyncLimiter | None = None,
        max_wait: float = 0.5,
        trusted_proxies: tuple[str, ...] = (),
        max_body_bytes: int = 10 * 1024 * 1024,
    ) -> None:
        self.session = session
        self.backend = backend_url.rstrip("/")
        self.pages = pages
        self.limiter = limiter
        self.max_wait = max_wait
        self.trusted = frozenset(trusted_proxies)
        self.max_body = max_body_bytes
        self.in_flight = 0

    def client_ip(self, scope: Scope, request: RequestView) -> str:
        peer = scope.get("client")
        ip = peer[0] if peer else ""
        forwarded = request.header(b"x-forwarded-for")
        if ip in self.trusted and forwarded:
            # The right-most address not ours is the client's.
            for hop in reversed([h.strip() for h in forwarded.split(",")]):
                if hop and hop not in self.trusted:
                    return hop
        return ip

    def _headers(self, scope: Scope, request: RequestView) -> list[tuple[bytes, bytes]]:
        connection_tokens = {
            t.strip().lower().encode()
            for t in (request.header(b"connection") or "").split(",")
            if t.strip()
        }
        out = [
            (name, value)
            for name, value in scope["headers"]
            if name not in HOP_BY_HOP
            and name not in connection_tokens
            and not name.startswith(b"x-forwarded-")
        ]
        ip = self.client_ip(scope, request)
        peer = scope.get("client")
        prior = request.header(b"x-forwarded-for") if peer and peer[0] in self.trusted else None
        out.append((b"x-forwarded-for", f"{prior}, {ip}".encode() if prior else ip.encode()))
        out.append((b"x-forwarded-proto", str(scope.get("scheme", "http")).encode()))
        host = request.headers.get(b"host")
        if host:
            out.append((b"x-forwarded-host", host))
        return out

    async def _body(self, receive: Receive, state: dict[str, bool]) -> AsyncIterator[bytes]:
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                # Never hand the backend a truncated body as if it were whole: abort the request.
                state["gone"] = True
                raise ClientGone
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                state["too_large"] = True
                raise BodyTooLarge
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        request = RequestView(scope)
        if self.limiter is not None and self.limiter.has_capacity():
            # Returns at once; wait_for would wrap it in a task: an extra turn of the event loop
            # for every proxied request (measured: 14 % of the proxied path, bench/run.py).
            await self.limiter.acquire()
        elif self.limiter is not None:
            try:
                await asyncio.wait_for(self.limiter.acquire(), self.max_wait)
            except TimeoutError:
                metrics.REJECTED.labels("backend_ceiling").inc()
                await self.error(scope, receive, send, request, 503, "error_busy", retry=2)
                return
        length = request.header(b"content-length")
        if length is not None and (not _is_digits(length) or int(length) > self.max_body):
            code = 413 if _is_digits(length) else 400
            await self.error(scope, receive, send, request, code, "error_bad_request")
            return
        raw_path: bytes = scope.get("raw_path") or quote(scope["path"]).encode("ascii")
        query: bytes = scope.get("query_string", b"")
        target = (raw_path + (b"?" + query if query else b"")).decode("latin-1")
        url = URL(self.backend + target, encoded=True)
        has_body = scope["method"] not in ("GET", "HEAD", "OPTIONS", "DELETE") or length
        headers = [
            (n.decode("latin-1"), v.decode("latin-1")) for n, v in self._headers(scope, request)
        ]
        body_state = {"too_large": False, "gone": False}
        started = time.perf_counter()
        self.in_flight += 1
        try:
            try:
                response = await self.session.request(
                    scope["method"],
                    url,
                    headers=headers,
                    data=self._body(receive, body_state) if has_body else None,
                    allow_redirects=False,
                )
            except BodyTooLarge:
                await self.error(scope, receive, send, request, 413, "error_bad_request")
                return
            except ClientGone:
                metrics.PROXIED.labels("client_gone").inc()
                return
            except (TimeoutError, aiohttp.ServerTimeoutError):
                metrics.PROXIED.labels("504").inc()
                await self.error(scope, receive, send, request, 504, "error_backend", retry=5)
                return
            except aiohttp.ClientError:
                if body_state["too_large"]:  # aiohttp wraps our own exceptions
                    await self.error(scope, receive, send, request, 413, "error_bad_request")
                    return
                if body_state["gone"]:
                    metrics.PROXIED.labels("client_gone").inc()
                    return  # nobody to answer; the backend saw the request aborted
                metrics.PROXIED.labels("502").inc()
                await self.error(scope, receive, send, request, 502, "error_backend", retry=5)
                return
            metrics.BACKEND_LATENCY.observe(time.perf_counter() - started)
            metrics.PROXIED.labels(str(response.status)).inc()
            try:
                out = [(n, v) for n, v in response.raw_headers if n.lower() not in HOP_BY_HOP]
                start = {"type": "http.response.start", "status": response.status}
                await send({**start, "headers": out})
                async for chunk in response.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            except (aiohttp.ClientError, TimeoutError):
                # Headers are out already: all we can do is cut the response short.
                log.warning("backend response broke off mid-stream")
            finally:
                response.release()
        finally:
            self.in_flight -= 1

    async def error(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        request: RequestView,
        status_code: int,
        message_key: str,
        retry: int | None = None,
    ) -> None:
        headers = {"retry-after": str(retry)} if retry is not None else None
        if request.wants_json:
            body = {"error": message_key.removeprefix("error_").replace("_", " ")}
            response = json_response(body, status_code, headers=headers)
        else:
            lang = choose_language(
                request.query_param("lang"),
                request.cookies.get("wr_lang"),
                request.header(b"accept-language"),
            )
            response = html_response(
                self.pages.error(status_code, message_key, lang), status_code, headers=headers
            )
        await response(scope, receive, send)
