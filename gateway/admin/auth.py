"""Who may use the admin API and the dashboard.

- API clients send ``Authorization: Bearer <WR_ADMIN_TOKEN>``. The comparison is constant-time
  by construction: both sides are hashed to 32-byte SHA-256 digests first, then compared with
  ``hmac.compare_digest``, so the time taken depends neither on the token's length nor on where
  the first wrong character is.
- The dashboard logs in with the same token through a form and gets a session cookie: signed
  (itsdangerous, salt "admin-session"), expiring, HttpOnly, SameSite=Strict. It holds the
  operator's name, a random nonce and a keyed tag of the token (so changing the token ends every
  session), never the token itself.
- Every ``hmac.compare_digest`` here compares bytes (str is UTF-8 encoded first): on str it
  raises TypeError for non-ASCII text, and the cookies, forms and headers compared are input.
- Every state-changing browser request carries a CSRF token: the session nonce, signed with the
  salt "admin-csrf" (in the forms, and in the ``X-CSRF-Token`` header of the dashboard's fetches).
- Without ``WR_ADMIN_TOKEN`` all of this is off and says so (404); it never falls open.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import wraps
from typing import Any

from itsdangerous import BadData, URLSafeTimedSerializer
from starlette.datastructures import Secret
from starlette.responses import Response

from gateway.endpoints import EndpointRequest, Handler
from gateway.http import RequestView, json_response
from gateway.runtime import Runtime

SESSION_COOKIE = "wr_admin"
LOGIN_COOKIE = "wr_admin_login"
SESSION_SALT = "admin-session"
CSRF_SALT = "admin-csrf"
SESSION_MAX_AGE = 12 * 3600
LOGIN_MAX_AGE = 3600
CSRF_HEADER = b"x-csrf-token"
ACTOR_HEADER = b"x-wr-actor"
OFF_MESSAGE = "the admin API is off: set WR_ADMIN_TOKEN to turn it on"
SAFE_METHODS = frozenset({"GET", "HEAD"})


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


def to_bytes(value: str | bytes) -> bytes:
    """UTF-8 that never raises (a lone surrogate is encoded as is)."""
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value


def same(a: str | bytes, b: str | bytes) -> bool:
    """hmac.compare_digest on bytes: on str it raises TypeError for non-ASCII text."""
    return hmac.compare_digest(to_bytes(a), to_bytes(b))


def token_matches(expected: Secret, given: str | bytes) -> bool:
    """Constant-time: fixed-length digests of both sides, compared with hmac.compare_digest."""
    return same(_digest(to_bytes(str(expected))), _digest(to_bytes(given)))


def bearer_token(request: RequestView) -> bytes | None:
    """The bearer token of the Authorization header; b"" (never valid) for another scheme."""
    raw = request.headers.get(b"authorization")
    if raw is None:
        return None
    scheme, _, value = raw.strip().partition(b" ")
    return value.strip() if scheme.lower() == b"bearer" else b""


def clean_actor(value: object) -> str | None:
    """A name for the audit log: printable, at most 64 characters; None if nothing is left."""
    if not isinstance(value, str):
        return None
    name = "".join(c for c in value if c.isprintable()).strip()[:64]
    return name or None


@dataclass(frozen=True, slots=True)
class Admin:
    """An authenticated operator."""

    actor: str
    via: str  # "token" | "session"
    nonce: str = ""


class Sessions:
    """Signed dashboard sessions and CSRF tokens for one runtime's keys and admin token."""

    def __init__(self, secret_keys: Sequence[str], admin_token: Secret) -> None:
        # itsdangerous signs with the *last* key and verifies with all of them.
        keys = list(reversed(secret_keys))
        self._session = URLSafeTimedSerializer(keys, salt=SESSION_SALT)
        self._csrf = URLSafeTimedSerializer(keys, salt=CSRF_SALT)
        self._tag = hmac.new(
            to_bytes(secret_keys[0]), to_bytes(str(admin_token)), hashlib.sha256
        ).hexdigest()[:32]

    @classmethod
    def of(cls, runtime: Runtime) -> Sessions:
        token = runtime.settings.admin_token
        if token is None:
            raise RuntimeError("the admin API is off")
        return cls(runtime.settings.secret_key_values, token)

    def new_session(self, actor: str) -> tuple[str, str]:
        """(cookie value, nonce)."""
        nonce = secrets.token_urlsafe(16)
        return self._session.dumps({"a": actor, "n": nonce, "k": self._tag}), nonce

    def read_session(self, value: str | None) -> Admin | None:
        if not value or len(value) > 1024:
            return None
        try:
            data: Any = self._session.loads(value, max_age=SESSION_MAX_AGE)
        except BadData:  # also BadSignature, SignatureExpired, BadPayload
            return None
        if not isinstance(data, dict) or not isinstance(data.get("n"), str):
            return None
        if not same(str(data.get("k", "")), self._tag):
            return None  # signed for another admin token
        return Admin(clean_actor(data.get("a")) or "dashboard", "session", data["n"])

    def csrf_token(self, nonce: str) -> str:
        return self._csrf.dumps(nonce)

    def csrf_ok(self, token: str | None, nonce: str) -> bool:
        if not token or not nonce or len(token) > 512:
            return False
        try:
            value: Any = self._csrf.loads(token, max_age=SESSION_MAX_AGE)
        except BadData:
            return False
        return isinstance(value, str) and same(value, nonce)


def admin_cookie(name: str, value: str, max_age: int, path: str, secure: bool) -> bytes:
    """Only sent to the admin paths, never cross-site, never readable by scripts."""
    parts = [f"{name}={value}", f"Path={path}", f"Max-Age={max_age}", "HttpOnly", "SameSite=Strict"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts).encode("latin-1")


def off() -> Response:
    return json_response({"error": OFF_MESSAGE}, 404)


def unauthorized() -> Response:
    body = {"error": "unauthorized: send Authorization: Bearer <WR_ADMIN_TOKEN>"}
    return json_response(body, 401, headers={"www-authenticate": 'Bearer realm="wr-admin"'})


def authenticate(runtime: Runtime, request: RequestView) -> Admin | Response:
    """The operator behind an API request, or the response refusing it (404, 401, 403)."""
    token = runtime.settings.admin_token
    if token is None:
        return off()
    header_actor = clean_actor(request.header(ACTOR_HEADER))
    given = bearer_token(request)
    if given is not None:
        if not token_matches(token, given):
            return unauthorized()
        return Admin(header_actor or "admin", "token")
    sessions = Sessions.of(runtime)
    admin = sessions.read_session(request.cookies.get(SESSION_COOKIE))
    if admin is None:
        return unauthorized()
    if request.method not in SAFE_METHODS and not sessions.csrf_ok(
        request.header(CSRF_HEADER), admin.nonce
    ):
        return json_response({"error": "missing or invalid X-CSRF-Token"}, 403)
    return Admin(header_actor or admin.actor, admin.via, admin.nonce)


AdminHandler = Callable[[Runtime, EndpointRequest, Admin], Awaitable[Response]]


def admin_api(handler: AdminHandler) -> Handler:
    """An endpoint handler that only runs for an authenticated operator."""

    @wraps(handler)
    async def endpoint(runtime: Runtime, request: RequestView) -> Response:
        if not isinstance(request, EndpointRequest):
            raise TypeError("admin endpoints are dispatched by gateway.endpoints.Endpoints")
        admin = authenticate(runtime, request)
        if isinstance(admin, Response):
            return admin
        return await handler(runtime, request, admin)

    return endpoint
