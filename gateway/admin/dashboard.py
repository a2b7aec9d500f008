"""The dashboard at ``/_wr/admin``: log in with the admin token, then watch and steer the room.

GET  /_wr/admin          the dashboard; the login form without a session; "off" without a token
POST /_wr/admin/login    token (+ the operator's name) -> a signed session cookie
POST /_wr/admin/logout
POST /_wr/admin/action   the dashboard's forms when JavaScript is off (with it, they call the API)

Pages carry a strict Content-Security-Policy: no external assets, inline code only by nonce.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.responses import PlainTextResponse, Response

from gateway.admin import api
from gateway.admin.auth import (
    LOGIN_COOKIE,
    LOGIN_MAX_AGE,
    SESSION_COOKIE,
    SESSION_MAX_AGE,
    Admin,
    Sessions,
    admin_cookie,
    clean_actor,
    token_matches,
)
from gateway.admin.capacity import capacity
from gateway.admin.opening import iso_wib
from gateway.endpoints import EndpointRequest
from gateway.http import RequestView, html_response
from gateway.runtime import Runtime

CONFIG_FIELDS = ("rate_per_minute", "max_active", "session_lifetime", "grace_period", "mode")
ACTIONS: dict[str, dict[str, Any]] = {
    "pause": {"mode": "pause"},
    "resume": {"mode": "queue"},
    "close": {"mode": "closed"},
    "open-now": {"opens_at": None, "mode": "queue"},
}
MESSAGES = {
    "saved": "Saved.",
    "conflict": "Someone changed the config meanwhile: the form now shows the current values.",
    "invalid": "That value is not valid",
    "unavailable": "Redis is unavailable: nothing was changed.",
    "csrf": "The form expired: please try again.",
}


def _headers(nonce: str) -> dict[str, str]:
    csp = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "connect-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    return {
        "content-security-policy": csp,
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
        "x-content-type-options": "nosniff",
    }


def _render(
    runtime: Runtime,
    template: str,
    status: int = 200,
    cookies: Iterable[bytes] = (),
    **context: Any,
) -> Response:
    nonce = secrets.token_urlsafe(16)
    html = runtime.pages.env.get_template(f"admin/{template}").render(
        nonce=nonce,
        prefix=runtime.settings.prefix,
        event=runtime.settings.event,
        event_title=runtime.pages.event_title,
        **context,
    )
    return html_response(html, status, cookies, _headers(nonce))


def _redirect(runtime: Runtime, cookies: Iterable[bytes] = (), **query: str) -> Response:
    location = f"{runtime.settings.prefix}/admin"
    if query:
        location += "?" + urlencode(query)
    response = Response(
        status_code=303, headers={"location": location, "cache-control": "no-store"}
    )
    for value in cookies:
        response.raw_headers.append((b"set-cookie", value))
    return response


def _cookie(runtime: Runtime, request: RequestView, name: str, value: str, max_age: int) -> bytes:
    return admin_cookie(name, value, max_age, f"{runtime.settings.prefix}/admin", request.secure)


TOO_LARGE = 413


async def _form(request: RequestView) -> dict[str, str] | int | None:
    """The form fields (the first of each name); TOO_LARGE over api.MAX_BODY; None when it
    cannot be read (more than 30 fields)."""
    if not isinstance(request, EndpointRequest):
        return None
    if api.declared_too_large(request):
        return TOO_LARGE
    body = await request.body(api.MAX_BODY)
    if body is None:
        return TOO_LARGE
    try:
        pairs = parse_qsl(
            body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=30
        )
    except ValueError:
        return None
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)
    return form


def _too_large() -> Response:
    text = f"That form is larger than {api.MAX_BODY} bytes: nothing was changed.\n"
    return PlainTextResponse(text, TOO_LARGE, headers={"cache-control": "no-store"})


def _off(runtime: Runtime) -> Response:
    return _render(runtime, "login.html", 404, off=True)


def _login_page(
    runtime: Runtime, request: RequestView, error: str | None = None, status: int = 200
) -> Response:
    sessions = Sessions.of(runtime)
    nonce = secrets.token_urlsafe(16)
    cookie = _cookie(runtime, request, LOGIN_COOKIE, nonce, LOGIN_MAX_AGE)
    return _render(
        runtime, "login.html", status, [cookie], csrf=sessions.csrf_token(nonce), error=error
    )


def _session(runtime: Runtime, request: RequestView) -> tuple[Sessions, Admin | None]:
    sessions = Sessions.of(runtime)
    return sessions, sessions.read_session(request.cookies.get(SESSION_COOKIE))


async def page(runtime: Runtime, request: RequestView) -> Response:
    if runtime.settings.admin_token is None:
        return _off(runtime)
    sessions, admin = _session(runtime, request)
    if admin is None:
        return _login_page(runtime, request)
    config = api.current_config(runtime)
    message = MESSAGES.get(request.query_param("done") or request.query_param("error") or "")
    field = request.query_param("field")
    if (
        message
        and request.query_param("error") == "invalid"
        and field in (*CONFIG_FIELDS, "opens_at", "version")
    ):
        message = f"{message}: {field}."
    rate = config["rate_per_minute"] if config else 0
    return _render(
        runtime,
        "dashboard.html",
        csrf=sessions.csrf_token(admin.nonce),
        actor=admin.actor,
        config=config,
        opens_at_iso=iso_wib(config["opens_at"]) if config else None,
        capacity=capacity(rate),
        message=message,
        is_error=request.query_param("error") is not None,
    )


async def login(runtime: Runtime, request: RequestView) -> Response:
    token = runtime.settings.admin_token
    if token is None:
        return _off(runtime)
    form = await _form(request)
    if form == TOO_LARGE:
        return _login_page(runtime, request, "That form is too large.", TOO_LARGE)
    if not isinstance(form, dict):
        return _login_page(runtime, request, "That form could not be read.", 400)
    sessions = Sessions.of(runtime)
    if not sessions.csrf_ok(form.get("csrf"), request.cookies.get(LOGIN_COOKIE, "")):
        return _login_page(runtime, request, MESSAGES["csrf"], 403)
    if not token_matches(token, form.get("token", "")):
        return _login_page(runtime, request, "Wrong token.", 401)
    value, _ = sessions.new_session(clean_actor(form.get("name")) or "dashboard")
    cookies = [
        _cookie(runtime, request, SESSION_COOKIE, value, SESSION_MAX_AGE),
        _cookie(runtime, request, LOGIN_COOKIE, '""', 0),
    ]
    return _redirect(runtime, cookies)


async def logout(runtime: Runtime, request: RequestView) -> Response:
    if runtime.settings.admin_token is None:
        return _off(runtime)
    sessions, admin = _session(runtime, request)
    form = await _form(request)
    if form == TOO_LARGE:
        return _too_large()
    if not isinstance(form, dict):
        form = {}
    if admin is not None and not sessions.csrf_ok(form.get("csrf"), admin.nonce):
        return _redirect(runtime, error="csrf")
    return _redirect(runtime, [_cookie(runtime, request, SESSION_COOKIE, '""', 0)])


def _form_changes(form: dict[str, str], config: dict[str, Any] | None) -> dict[str, Any]:
    """The fields of the no-JavaScript config form that differ from the current config."""
    changes: dict[str, Any] = {}
    for name in CONFIG_FIELDS:
        value = form.get(name, "").strip()
        if value and (config is None or value != str(config[name])):
            changes[name] = value
    return changes


async def action(runtime: Runtime, request: RequestView) -> Response:
    if runtime.settings.admin_token is None:
        return _off(runtime)
    sessions, admin = _session(runtime, request)
    if admin is None:
        return _redirect(runtime)
    form = await _form(request)
    if form == TOO_LARGE:
        return _too_large()
    if not isinstance(form, dict) or not sessions.csrf_ok(form.get("csrf"), admin.nonce):
        return _redirect(runtime, error="csrf")
    kind = form.get("action", "")
    changes: dict[str, Any]
    if kind == "config":
        changes = _form_changes(form, api.current_config(runtime))
    elif kind == "opening":
        changes = {"opens_at": form.get("opens_at", "").strip()}
    elif kind in ACTIONS:
        changes = dict(ACTIONS[kind])
    else:
        return _redirect(runtime, error="invalid", field="action")
    if not changes:
        return _redirect(runtime, done="saved")
    raw_version = form.get("version", "").strip()
    # ASCII digits only: "²".isdigit() is True, but int("²") raises. Empty: no version check.
    if raw_version and not re.fullmatch(r"[0-9]{1,15}", raw_version):
        return _redirect(runtime, error="invalid", field="version")
    version = int(raw_version) if raw_version else None
    status, body = await api.apply(runtime, changes, admin.actor, version)
    if status == 200:
        return _redirect(runtime, done="saved")
    if status == 409:
        return _redirect(runtime, error="conflict")
    if status == 422:
        return _redirect(runtime, error="invalid", field=str(body.get("field", "")))
    return _redirect(runtime, error="unavailable")
