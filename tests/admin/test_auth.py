"""Who gets in: bearer token (constant-time), dashboard session (signed cookie), CSRF, and
nothing at all without a configured token."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from starlette.datastructures import Secret
from starlette.testclient import TestClient

from gateway.admin import auth
from tests.admin.conftest import API, BEARER, TOKEN, csrf_of, log_in

ENDPOINTS = [
    ("GET", "state"),
    ("GET", "series"),
    ("GET", "config"),
    ("PATCH", "config"),
    ("GET", "audit"),
    ("POST", "pause"),
    ("POST", "resume"),
    ("POST", "close"),
    ("POST", "open-now"),
    ("POST", "reset"),
]
WRONG = [
    {},
    {"authorization": "Bearer "},
    {"authorization": "Bearer wrong"},
    {"authorization": f"Bearer {TOKEN[:-1]}"},
    {"authorization": f"Bearer {TOKEN}x"},
    {"authorization": f"Basic {TOKEN}"},
    {"authorization": TOKEN},
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("headers", WRONG, ids=range(len(WRONG)))
def test_unauthenticated_and_wrong_token_get_401(
    client: TestClient, method: str, path: str, headers: dict[str, str]
) -> None:
    answer = client.request(method, f"{API}/{path}", headers=headers, json={"mode": "closed"})
    assert answer.status_code == 401
    assert answer.json()["error"].startswith("unauthorized")
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert TOKEN not in answer.text
    # Nothing changed.
    assert client.get(f"{API}/state", headers=BEARER).json()["config"]["mode"] == "queue"


def test_the_right_token_gets_in(client: TestClient) -> None:
    answer = client.get(f"{API}/state", headers=BEARER)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    assert TOKEN not in answer.text


@pytest.mark.parametrize(("method", "path"), [*ENDPOINTS, ("GET", "../admin")])
def test_without_a_configured_token_the_admin_api_is_off(
    client_without_token: TestClient, method: str, path: str
) -> None:
    for headers in ({}, {"authorization": "Bearer "}, {"authorization": "Bearer anything"}):
        answer = client_without_token.request(method, f"{API}/{path}", headers=headers)
        assert answer.status_code == 404
        if path != "../admin":
            assert "WR_ADMIN_TOKEN" in answer.json()["error"]
    page = client_without_token.get("/_wr/admin")
    assert page.status_code == 404
    assert "WR_ADMIN_TOKEN" in page.text
    login = client_without_token.post("/_wr/admin/login", data={"token": "", "csrf": ""})
    assert login.status_code == 404
    assert "set-cookie" not in login.headers


def test_the_comparison_is_constant_time_by_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both sides are reduced to 32-byte SHA-256 digests and compared with hmac.compare_digest:
    the time depends neither on the length of either token nor on where they first differ."""
    seen: list[tuple[Any, Any]] = []
    real = auth.hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    secret = Secret(TOKEN)
    for given in (b"", b"x", TOKEN.encode()[:-1], TOKEN.encode() + b"x" * 1000, TOKEN.encode()):
        assert auth.token_matches(secret, given) is (given == TOKEN.encode())
    assert len(seen) == 5
    for a, b in seen:
        assert isinstance(a, bytes) and isinstance(b, bytes)
        assert len(a) == len(b) == 32
    # And nothing else in the module compares the token.
    source = auth.__loader__.get_source(auth.__name__)  # type: ignore[union-attr]
    assert source is not None
    assert "== str(expected)" not in source and "token ==" not in source


def test_login_sets_a_strict_httponly_signed_session_without_the_token(client: TestClient) -> None:
    form = client.get("/_wr/admin")
    assert form.status_code == 200
    assert 'type="password"' in form.text
    login_cookie = form.headers["set-cookie"]
    assert "HttpOnly" in login_cookie and "SameSite=Strict" in login_cookie
    answer = client.post(
        "/_wr/admin/login",
        data={"token": TOKEN, "name": "ana", "csrf": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/_wr/admin"
    session = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("wr_admin="))
    assert "HttpOnly" in session and "SameSite=Strict" in session
    assert "Path=/_wr/admin" in session and "Max-Age=" in session
    value = session.split(";")[0].split("=", 1)[1]
    payload = value.split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert TOKEN.encode() not in decoded and TOKEN not in value
    assert b'"a":"ana"' in decoded
    page = client.get("/_wr/admin")
    assert page.status_code == 200
    assert "Audit log" in page.text
    assert TOKEN not in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    # No external assets: every src/href is local (a path) or inline (data:).
    assert re.findall(r'(?:src|href)="(?!/|data:)', page.text) == []


def test_login_refuses_a_wrong_token_and_a_missing_csrf_token(client: TestClient) -> None:
    form = client.get("/_wr/admin")
    csrf = csrf_of(form.text)
    wrong = client.post("/_wr/admin/login", data={"token": "nope", "csrf": csrf})
    assert wrong.status_code == 401
    assert "Wrong token" in wrong.text
    assert not any(c.startswith("wr_admin=") for c in wrong.headers.get_list("set-cookie"))
    no_csrf = client.post("/_wr/admin/login", data={"token": TOKEN})
    assert no_csrf.status_code == 403
    forged = client.post("/_wr/admin/login", data={"token": TOKEN, "csrf": csrf + "x"})
    assert forged.status_code == 403
    assert client.get(f"{API}/state").status_code == 401


def test_the_session_works_for_the_api_with_a_csrf_header(client: TestClient) -> None:
    csrf = log_in(client, "ana")
    assert client.get(f"{API}/state").status_code == 200
    assert client.get(f"{API}/audit").status_code == 200
    body = {"rate_per_minute": 1200}
    assert client.patch(f"{API}/config", json=body).status_code == 403
    forged = client.patch(f"{API}/config", json=body, headers={"x-csrf-token": csrf[:-2] + "xx"})
    assert forged.status_code == 403
    assert client.post(f"{API}/pause", headers={"x-csrf-token": "x"}).status_code == 403
    answer = client.patch(f"{API}/config", json=body, headers={"x-csrf-token": csrf})
    assert answer.status_code == 200, answer.text
    entry = client.get(f"{API}/audit").json()["entries"][0]
    assert entry["actor"] == "ana"
    assert entry["new"] == {"rate_per_minute": "1200"}


def test_a_tampered_session_cookie_is_refused(client: TestClient) -> None:
    log_in(client)
    value = client.cookies["wr_admin"]
    client.cookies.clear()
    client.cookies.set("wr_admin", value[:-3] + "abc", path="/_wr/admin")
    assert client.get(f"{API}/state").status_code == 401
    assert 'type="password"' in client.get("/_wr/admin").text


def test_a_session_of_another_admin_token_is_refused(client: TestClient) -> None:
    sessions = auth.Sessions(["admin-test-secret"], Secret("the-old-token"))
    value, _ = sessions.new_session("mallory")
    client.cookies.set("wr_admin", value, path="/_wr/admin")
    assert client.get(f"{API}/state").status_code == 401


def test_logout_ends_the_session(client: TestClient) -> None:
    csrf_header = log_in(client)
    page = client.get("/_wr/admin")
    answer = client.post(
        "/_wr/admin/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert 'wr_admin=""' in answer.headers["set-cookie"]
    assert client.get(f"{API}/state").status_code == 401
    assert csrf_header  # the old CSRF token is useless without the session
    assert client.post(f"{API}/pause", headers={"x-csrf-token": csrf_header}).status_code == 401


def test_the_forms_work_without_javascript_and_check_csrf(client: TestClient) -> None:
    log_in(client, "budi")
    page = client.get("/_wr/admin")
    csrf = csrf_of(page.text)
    state = client.get(f"{API}/state").json()
    form = {
        "csrf": csrf,
        "action": "config",
        "version": str(state["config"]["version"]),
        "rate_per_minute": "3000",
        "max_active": str(state["config"]["max_active"]),
        "mode": "queue",
    }
    forged = client.post("/_wr/admin/action", data={**form, "csrf": "x"}, follow_redirects=False)
    assert forged.headers["location"].endswith("error=csrf")
    assert client.get(f"{API}/config").json()["config"]["rate_per_minute"] == 600
    answer = client.post("/_wr/admin/action", data=form, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].endswith("done=saved")
    assert client.get(f"{API}/config").json()["config"]["rate_per_minute"] == 3000
    entry = client.get(f"{API}/audit").json()["entries"][0]
    assert entry["actor"] == "budi"
    assert entry["new"] == {"rate_per_minute": "3000"}  # unchanged fields are not rewritten
    stale = client.post("/_wr/admin/action", data={**form, "rate_per_minute": "1"})
    assert "Someone changed the config meanwhile" in stale.text
    bad = client.post(
        "/_wr/admin/action", data={**form, "version": "", "max_active": "0"}, follow_redirects=False
    )
    assert bad.headers["location"].endswith("error=invalid&field=max_active")
    paused = client.post("/_wr/admin/action", data={"csrf": csrf, "action": "pause"})
    assert paused.status_code == 200
    assert client.get(f"{API}/config").json()["config"]["mode"] == "pause"
    opening = {"csrf": csrf, "action": "opening", "opens_at": "2030-01-02T03:04+07:00"}
    client.post("/_wr/admin/action", data=opening)
    opens_at = client.get(f"{API}/config").json()["config"]["opens_at"]
    assert opens_at == 1893528240.0
