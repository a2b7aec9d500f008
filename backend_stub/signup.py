"""The first steps of the funnel: the landing page, registration, e-mail verification.

``POST /register`` (JSON or form: ``name``, ``email``, ``password``) answers 201 with
``{"id", "email", "account_token", "email_verified": false}``; the ``id`` and ``account_token``
authenticate the later steps (see ``backend_stub.auth``). No e-mail is sent: with
``expose_tokens`` on, the verification token comes back in the ``X-Stub-Email-Token`` header
and ``GET /verify-email?token=<it>`` completes the step.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from backend_stub import render
from backend_stub.auth import COOKIE
from backend_stub.errors import ApiError, ValidationFailed
from backend_stub.payload import read_fields
from backend_stub.runtime import runtime
from backend_stub.validation import check_registration

EMAIL_TOKEN_HEADER = "X-Stub-Email-Token"  # noqa: S105 (a header name)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,128}")


async def landing(request: Request) -> Response:
    if render.wants_json(request):
        return JSONResponse({"service": "Kartu Prakerja (backend stub)", "next": "/register"})
    return render.page(request, "landing.html")


async def register(request: Request) -> Response:
    if request.method != "POST":
        if render.wants_json(request):
            return JSONResponse({"fields": ["name", "email", "password"]})
        return render.page(request, "register.html")
    rt = runtime(request)
    fields = await read_fields(request)
    echo = {k: v for k in ("name", "email") if isinstance(v := fields.get(k), str)}
    try:
        checked = check_registration(fields)
        if isinstance(checked, dict):
            raise ValidationFailed(checked)
        account = rt.store.register(checked)
    except ApiError as exc:
        return render.error(request, exc, form="register.html", context={"values": echo})

    headers = {EMAIL_TOKEN_HEADER: account.email_token} if rt.settings.expose_tokens else {}
    if render.wants_json(request):
        body = {
            "id": account.id,
            "email": account.email,
            "account_token": account.token,
            "email_verified": False,
        }
        return JSONResponse(body, 201, headers)
    verify_url = None
    if rt.settings.expose_tokens:
        verify_url = f"/verify-email?token={account.email_token}{render.lang_query(request, '&')}"
    response = render.page(
        request,
        "check_email.html",
        {"email": account.email, "verify_url": verify_url},
        status_code=201,
        headers=headers,
    )
    response.set_cookie(COOKIE, f"{account.id}:{account.token}", httponly=True, samesite="lax")
    return response


async def verify_email(request: Request) -> Response:
    token = request.query_params.get("token", "")
    if not _TOKEN.fullmatch(token):
        raise ApiError(400, "token_invalid")
    account = runtime(request).store.verify_email(token)
    if account is None:
        raise ApiError(404, "token_unknown")
    if render.wants_json(request):
        return JSONResponse({"id": account.id, "email": account.email, "email_verified": True})
    return render.page(request, "verified.html", {"email": account.email})
