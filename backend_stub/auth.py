"""Who is calling: the account behind the NIK, photo and batch steps.

``POST /register`` returns the account's ``id`` and a secret ``account_token``. Later steps
name the account in the first of these places that has it:

1. body fields ``account_id`` and ``account_token`` (JSON, URL-encoded or multipart form);
2. headers ``X-Stub-Account: <id>`` and ``X-Stub-Token: <token>``;
3. the cookie ``stub_account=<id>:<token>`` that an HTML registration sets (browsers only).

Missing or wrong credentials are a 401.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request

from backend_stub.errors import ApiError
from backend_stub.runtime import runtime
from backend_stub.store import Account

COOKIE = "stub_account"
ID_HEADER = "x-stub-account"
TOKEN_HEADER = "x-stub-token"  # noqa: S105 (a header name, not a secret)
_CHALLENGE = {"WWW-Authenticate": 'StubToken realm="backend-stub"'}


def credentials(request: Request, fields: Mapping[str, object]) -> tuple[str, str] | None:
    account_id, token = fields.get("account_id"), fields.get("account_token")
    if isinstance(account_id, str) and isinstance(token, str) and account_id and token:
        return account_id, token
    account_id, token = request.headers.get(ID_HEADER), request.headers.get(TOKEN_HEADER)
    if account_id and token:
        return account_id, token
    cookie = request.cookies.get(COOKIE, "")
    account_id, sep, token = cookie.partition(":")
    if sep and account_id and token:
        return account_id, token
    return None


def authenticate(request: Request, fields: Mapping[str, object]) -> Account:
    found = credentials(request, fields)
    if found is None:
        raise ApiError(401, "auth_required", headers=_CHALLENGE)
    account = runtime(request).store.authenticate(*found)
    if account is None:
        raise ApiError(401, "auth_invalid", headers=_CHALLENGE)
    return account
