"""One place that decides between HTML and JSON, and renders pages and errors.

JSON is chosen when the request sends a JSON body, or accepts application/json without
mentioning text/html; browsers (and clients that send ``*/*``) get HTML.

A JSON error looks like::

    {"error": "validation_failed", "message": "Some fields are not valid.",
     "errors": {"email": "This is not a valid e-mail address."},
     "codes": {"email": "email_invalid"}}

``errors`` and ``codes`` appear only for field errors; ``message`` follows the language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from backend_stub.errors import ApiError
from backend_stub.i18n import negotiate, text
from backend_stub.runtime import runtime


def is_json_media(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def wants_json(request: Request) -> bool:
    if is_json_media(request.headers.get("content-type")):
        return True
    accept = request.headers.get("accept", "").lower()
    return "application/json" in accept and "text/html" not in accept


def language(request: Request) -> str:
    return negotiate(request.query_params, request.headers.get("accept-language"))


def lang_query(request: Request, sep: str = "?") -> str:
    """``?lang=xx`` to carry an explicit language choice into links and form actions."""
    lang = request.query_params.get("lang", "").lower()
    return f"{sep}lang={lang}" if lang in ("id", "en") else ""


def _relative(url: URL) -> str:
    # Links stay relative: behind the gateway, the host the stub sees is not the public one.
    return f"{url.path}?{url.query}" if url.query else url.path


def page(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    lang = language(request)

    def t(key: str, **values: object) -> str:
        return text(key, lang, **values)

    other = "en" if lang == "id" else "id"
    base = {
        "lang": lang,
        "t": t,
        "q": lang_query(request),
        "switch_url": _relative(request.url.include_query_params(lang=other)),
        "errors": {},
        "values": {},
    }
    base.update(context or {})
    return runtime(request).templates.TemplateResponse(
        request, name, base, status_code=status_code, headers=headers
    )


def error(
    request: Request,
    exc: ApiError,
    form: str | None = None,
    context: Mapping[str, Any] | None = None,
) -> Response:
    """Render ``exc``; for HTML with field errors and a ``form``, show that form again."""
    lang = language(request)
    message = text(exc.code, lang)
    if wants_json(request):
        body: dict[str, Any] = {"error": exc.code, "message": message}
        if exc.fields:
            body["errors"] = {f: text(code, lang) for f, code in exc.fields.items()}
            body["codes"] = dict(exc.fields)
        return JSONResponse(body, exc.status_code, exc.headers)
    field_errors = {f: text(code, lang) for f, code in exc.fields.items()}
    if form is not None and exc.fields:
        ctx = {"errors": field_errors, "message": message, **(context or {})}
        return page(request, form, ctx, exc.status_code, exc.headers)
    ctx = {
        "status": exc.status_code,
        "message": message,
        "errors": field_errors,
        "retry_after": exc.headers.get("Retry-After"),
    }
    return page(request, "error.html", ctx, exc.status_code, exc.headers)
