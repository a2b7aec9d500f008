"""Bad input to the admin API and dashboard: always a clear 4xx that names what is wrong, never
a 500, and nothing changes. Non-ASCII credentials, odd numbers, deep or ambiguous JSON, query
parameters, content types, sizes and methods; then a fuzz of the config and action bodies."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.datastructures import Secret
from starlette.testclient import TestClient

from gateway.admin import api as admin_api
from gateway.admin import auth
from gateway.admin.routes import admin_routes
from tests.admin.conftest import API, BEARER, TOKEN, csrf_of, log_in
from waitingroom import controller
from waitingroom.config import RoomConfig, parse_changes
from waitingroom.errors import ConfigError

JSON = {"content-type": "application/json"}
BIG = 64 * 1024 + 1


def call(client: TestClient, method: str, path: str, **kwargs: Any) -> Any:
    headers = {**BEARER, **kwargs.pop("headers", {})}
    return client.request(method, f"{API}/{path}", headers=headers, **kwargs)


def config(client: TestClient) -> dict[str, Any]:
    body: dict[str, Any] = call(client, "GET", "config").json()["config"]
    return body


def state_of(client: TestClient) -> tuple[dict[str, Any], int]:
    """The config and the audit log's length: what a refused request must leave alone."""
    entries = call(client, "GET", "audit?limit=1000").json()["entries"]
    return config(client), len(entries)


# -- C5: hmac.compare_digest only ever sees bytes ---------------------------------------------


def test_non_ascii_login_token_and_csrf_get_401_and_403(client: TestClient) -> None:
    csrf = csrf_of(client.get("/_wr/admin").text)
    wrong = client.post("/_wr/admin/login", data={"token": "tökén ü", "csrf": csrf})
    assert wrong.status_code == 401
    assert "Wrong token" in wrong.text
    for bad_csrf in ("ü", "ü" * 600, csrf + "ü"):
        answer = client.post("/_wr/admin/login", data={"token": TOKEN, "csrf": bad_csrf})
        assert answer.status_code == 403
    both = client.post("/_wr/admin/login", data={"token": "ü", "csrf": "ü"})
    assert both.status_code == 403
    assert not any(c.startswith("wr_admin=") for c in both.headers.get_list("set-cookie"))


def test_a_non_ascii_login_cookie_against_a_valid_csrf_token_gets_403(client: TestClient) -> None:
    """The signed CSRF token is checked against the login cookie's nonce: a cookie that is not
    ASCII made hmac.compare_digest(str, str) raise TypeError (a 500)."""
    csrf = csrf_of(client.get("/_wr/admin").text)
    client.cookies.clear()
    answer = client.post(
        "/_wr/admin/login",
        content=f"token={TOKEN}&csrf={csrf}".encode(),
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "cookie": "wr_admin_login=nönce-ü".encode(),
        },
    )
    assert answer.status_code == 403
    assert not any(c.startswith("wr_admin=") for c in answer.headers.get_list("set-cookie"))


@pytest.mark.parametrize("value", ["Bearer ü", "Bearer tökén", "Bearer 令牌", "bearer \u00ff" * 50])
def test_a_non_ascii_bearer_token_gets_401(client: TestClient, value: str) -> None:
    answer = client.get(f"{API}/state", headers={"authorization": value.encode()})
    assert answer.status_code == 401
    patch = client.patch(
        f"{API}/config", json={"mode": "closed"}, headers={"authorization": value.encode()}
    )
    assert patch.status_code == 401
    assert config(client)["mode"] == "queue"


def test_a_non_ascii_csrf_header_with_a_session_gets_403(client: TestClient) -> None:
    log_in(client)
    answer = client.post(f"{API}/pause", headers={"x-csrf-token": "tökén-ü".encode()})
    assert answer.status_code == 403
    assert config(client)["mode"] == "queue"


def test_csrf_and_token_comparisons_take_any_text() -> None:
    sessions = auth.Sessions(["k"], Secret("tökén"))
    assert sessions.csrf_ok(sessions.csrf_token("nönce"), "nönce")
    assert not sessions.csrf_ok(sessions.csrf_token("nonce"), "nönce")
    assert not sessions.csrf_ok(sessions.csrf_token("nönce"), "nonce")
    assert auth.token_matches(Secret("tökén"), "tökén")
    assert auth.token_matches(Secret("tökén"), "tökén".encode())
    assert not auth.token_matches(Secret("tökén"), "token")
    assert not auth.token_matches(Secret("tökén"), "\ud800")
    value, _ = sessions.new_session("änä")
    admin = sessions.read_session(value)
    assert admin is not None and admin.actor == "änä"
    assert sessions.read_session("ü" * 100) is None


def test_every_compare_digest_in_the_admin_package_gets_bytes(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[Any, Any]] = []
    real = auth.hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    csrf = log_in(client)
    assert client.patch(
        f"{API}/config", json={"rate_per_minute": 60}, headers={"x-csrf-token": csrf}
    ).is_success
    assert call(client, "GET", "state").status_code == 200
    assert len(seen) >= 4  # login (CSRF, token), session, API CSRF, bearer
    assert all(isinstance(a, bytes) and isinstance(b, bytes) for a, b in seen)


# -- C6: odd values get 422 naming the field, malformed bodies 400 -----------------------------

HUGE = "1" * 5000  # beyond int()'s 4300-digit limit for strings
NOT_INTEGERS = [
    "²",
    "-²",
    "٣",
    "\uff11\uff12",
    "12²",
    " ",
    "1e3",
    "0x10",
    "1_000",
    "+5",
    "inf",
    "nan",
    "-",
]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        *[({"rate_per_minute": value}, "rate_per_minute") for value in NOT_INTEGERS],
        ({"max_active": "²"}, "max_active"),
        ({"session_lifetime": "٣٠٠"}, "session_lifetime"),
        ({"grace_period": "-²"}, "grace_period"),
        ({"rate_per_minute": HUGE}, "rate_per_minute"),
        ({"rate_per_minute": "-" + HUGE}, "rate_per_minute"),
        ({"rate_per_minute": 10**400}, "rate_per_minute"),
        ({"rate_per_minute": -(10**400)}, "rate_per_minute"),
        ({"max_active": 1e300}, "max_active"),
        ({"max_active": False}, "max_active"),
        ({"max_active": [1]}, "max_active"),
        ({"max_active": {"n": 1}}, "max_active"),
        ({"opens_at": 10**400}, "opens_at"),
        ({"opens_at": -(10**400)}, "opens_at"),
        ({"opens_at": 1e300}, "opens_at"),
        ({"opens_at": True}, "opens_at"),
        ({"opens_at": "١٨٩٣٥٢٨٢٤٥"}, "opens_at"),
        ({"opens_at": "²"}, "opens_at"),
        ({"opens_at": "inf"}, "opens_at"),
        ({"opens_at": "nan"}, "opens_at"),
        ({"opens_at": "1e400"}, "opens_at"),
        ({"opens_at": "9" * 400}, "opens_at"),
        ({"opens_at": "9999-12-31T23:59:59-23:59"}, "opens_at"),
        ({"opens_at": "0001-01-01T00:00+23:59"}, "opens_at"),
        ({"opens_at": ["2030-01-01T00:00Z"]}, "opens_at"),
        ({"mode": 1}, "mode"),
        ({"mode": "ü" * 1000}, "mode"),
        ({"ü": 1}, "ü"),
        ({"rate_per_minute": 60, "version": 10**400}, "version"),
        ({"rate_per_minute": 60, "version": -1}, "version"),
        ({"rate_per_minute": 60, "version": 2**60}, "version"),
        ({"rate_per_minute": 60, "version": 1e300}, "version"),
        ({"rate_per_minute": 60, "version": "²"}, "version"),
        ({"rate_per_minute": 60, "actor": ["x"]}, "actor"),
        ({"rate_per_minute": 60, "actor": 7}, "actor"),
    ],
    ids=repr,
)
def test_odd_values_get_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    before = state_of(client)
    answer = call(client, "PATCH", "config", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field
    assert answer.json()["error"].startswith(f"{field}: ")
    assert state_of(client) == before


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b'{"rate_per_minute": NaN}', "NaN"),
        (b'{"rate_per_minute": Infinity}', "Infinity"),
        (b'{"opens_at": -Infinity}', "Infinity"),
        (b'{"rate_per_minute": ' + b"1" * 5000 + b"}", "digits"),
        (b"[" * 5000 + b"]" * 5000, "deep"),
        (b'{"a":' * 2000 + b"1" + b"}" * 2000, "deep"),
        (b'{"rate_per_minute": 60, "rate_per_minute": 6000}', "twice"),
        (b'{"\\ud800": 1}', "surrogate"),
        (b'{"mode": "\\udfff"}', "surrogate"),
        (b'{"rate_per_minute": 60, "actor": "\\ud83d"}', "surrogate"),
        (b'{"rate_per_minute": 60}\xff', "UTF-8"),
        (b"\xfe\xff\x00{", "UTF-8"),
        (b'{"rate_per_minute": 60', "JSON"),
        (b"null", "object"),
        (b"1e999", "object"),
    ],
    ids=lambda v: repr(v)[:40],
)
def test_malformed_json_gets_400(client: TestClient, content: bytes, detail: str) -> None:
    before = state_of(client)
    for method, path in (("PATCH", "config"), ("POST", "pause"), ("POST", "reset")):
        answer = call(client, method, path, content=content, headers=JSON)
        assert answer.status_code == 400, (path, answer.text)
        assert detail in answer.json()["error"]
    assert state_of(client) == before


def test_a_utf8_bom_is_fine(client: TestClient) -> None:
    answer = call(
        client, "PATCH", "config", content=b'\xef\xbb\xbf{"rate_per_minute": 61}', headers=JSON
    )
    assert answer.status_code == 200, answer.text
    assert config(client)["rate_per_minute"] == 61


def test_good_values_in_every_form_still_work(client: TestClient) -> None:
    for value, expected in ((" 120 ", 120), ("0130", 130), (140.0, 140), ("-0", 0)):
        answer = call(client, "PATCH", "config", json={"rate_per_minute": value})
        assert answer.status_code == 200, answer.text
        assert answer.json()["config"]["rate_per_minute"] == expected
    for value, expected in (("1893528245", 1893528245.0), ("1.5e9", 1.5e9), (10**10, 1e10)):
        answer = call(client, "PATCH", "config", json={"opens_at": value})
        assert answer.status_code == 200, answer.text
        assert answer.json()["config"]["opens_at"] == expected
    version = config(client)["version"]
    assert call(client, "POST", "pause", json={"version": version}).status_code == 200


def test_the_coercion_is_ascii_only_and_bounded() -> None:
    base = RoomConfig()
    for value in ("²", "٣", "\uff11", HUGE, 10**400, 1e300, float("nan"), float("inf"), True):
        with pytest.raises(ConfigError) as info:
            parse_changes(base, {"max_active": value})
        assert info.value.field == "max_active"
    for value in ("١٢", "nan", "inf", "1_0", 10**400, float("nan"), 1e11, -1, True):
        with pytest.raises(ConfigError) as info:
            parse_changes(base, {"opens_at": value})
        assert info.value.field == "opens_at"
    # What the Redis hash holds reads back, small and exponent forms included.
    for opens_at in (1e-05, 0.0, 1893528245.0, 99999999999.5):
        config = RoomConfig(opens_at=opens_at)
        assert RoomConfig.from_redis({**config.to_redis(), "version": "3"}).opens_at == opens_at


@pytest.mark.parametrize("limit", ["abc", "-5", "0", "1001", "9" * 40, "²", "1.5", "1e3", "٣"])
def test_a_bad_audit_limit_gets_422(client: TestClient, limit: str) -> None:
    answer = call(client, "GET", "audit", params={"limit": limit})
    assert answer.status_code == 422
    assert answer.json()["field"] == "limit"
    assert "1 to 1000" in answer.json()["error"]


def test_good_audit_limits(client: TestClient) -> None:
    for _ in range(3):
        call(client, "POST", "pause")
    assert len(call(client, "GET", "audit", params={"limit": "2"}).json()["entries"]) == 2
    assert len(call(client, "GET", "audit", params={"limit": " 1000 "}).json()["entries"]) >= 3
    assert len(call(client, "GET", "audit", params={"limit": ""}).json()["entries"]) >= 3
    assert len(call(client, "GET", "audit").json()["entries"]) >= 3


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"window": "²"}, "window"),
        ({"window": "5"}, "window"),
        ({"window": "9" * 40}, "window"),
        ({"step": "-1"}, "step"),
        ({"step": "301"}, "step"),
        ({"step": "x"}, "step"),
    ],
)
def test_bad_series_parameters_get_422(
    client: TestClient, query: dict[str, str], field: str
) -> None:
    answer = call(client, "GET", "series", params=query)
    assert answer.status_code == 422
    assert answer.json()["field"] == field
    assert call(client, "GET", "series", params={"window": "60", "step": "0"}).status_code == 200


def test_the_dashboard_form_refuses_unicode_digits(client: TestClient) -> None:
    log_in(client, "budi")
    csrf = csrf_of(client.get("/_wr/admin").text)
    version = str(config(client)["version"])
    before = state_of(client)
    for extra, field in (
        ({"version": "²", "rate_per_minute": "700"}, "version"),
        ({"version": "9" * 40, "rate_per_minute": "700"}, "version"),
        ({"version": version, "rate_per_minute": "²"}, "rate_per_minute"),
        ({"version": version, "max_active": "٣"}, "max_active"),
        ({"version": version, "rate_per_minute": HUGE}, "rate_per_minute"),
    ):
        form = {"csrf": csrf, "action": "config", **extra}
        answer = client.post("/_wr/admin/action", data=form, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].endswith(f"error=invalid&field={field}")
        page = client.get(answer.headers["location"])
        assert f"That value is not valid: {field}." in page.text
    opening = {"csrf": csrf, "action": "opening", "opens_at": "١٨٩٣٥٢٨٢٤٥"}
    answer = client.post("/_wr/admin/action", data=opening, follow_redirects=False)
    assert answer.headers["location"].endswith("error=invalid&field=opens_at")
    assert state_of(client) == before


# -- content types, sizes, empty bodies, unknown keys, methods ---------------------------------


BODY_ROUTES = [("PATCH", "config"), ("POST", "pause"), ("POST", "open-now"), ("POST", "reset")]


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "ü"],
)
def test_a_body_that_is_not_json_gets_415(
    client: TestClient, method: str, path: str, content_type: str
) -> None:
    before = state_of(client)
    body = json.dumps({"rate_per_minute": 6000, "confirm": "prakerja"}).encode()
    if path != "config":
        body = json.dumps({"confirm": "prakerja"} if path == "reset" else {}).encode()
    answer = call(
        client, method, path, content=body, headers={"content-type": content_type.encode()}
    )
    assert answer.status_code == 415
    assert "application/json" in answer.json()["error"]
    assert state_of(client) == before


def test_json_content_types_are_fine(client: TestClient) -> None:
    for content_type in ("application/json", "Application/JSON; charset=utf-8", "x/y+json"):
        answer = call(
            client,
            "PATCH",
            "config",
            content=b'{"rate_per_minute": 77}',
            headers={"content-type": content_type},
        )
        assert answer.status_code == 200, answer.text
    # An action with no body needs no Content-Type, and an empty form body is no body.
    assert call(client, "POST", "pause").status_code == 200
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert call(client, "POST", "resume", content=b"", headers=form).status_code == 200


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
def test_a_body_over_the_limit_gets_413(client: TestClient, method: str, path: str) -> None:
    before = state_of(client)
    padded = b'{"confirm": "prakerja", "pad": "' + b"x" * BIG + b'"}'
    answer = call(client, method, path, content=padded, headers=JSON)
    assert answer.status_code == 413
    assert "larger than" in answer.json()["error"]

    def chunks() -> Any:  # no Content-Length: the limit holds while reading
        for _ in range(BIG // 1024 + 1):
            yield b" " * 1024

    streamed = call(client, method, path, content=chunks(), headers=JSON)
    assert streamed.status_code == 413
    assert state_of(client) == before


def test_dashboard_forms_over_the_limit_get_413(client: TestClient) -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    big = b"csrf=x&token=" + b"x" * BIG
    login = client.post("/_wr/admin/login", content=big, headers=form)
    assert login.status_code == 413
    assert "too large" in login.text
    log_in(client)
    before = state_of(client)
    csrf = csrf_of(client.get("/_wr/admin").text)
    action = client.post(
        "/_wr/admin/action",
        content=f"csrf={csrf}&action=pause&pad=".encode() + b"x" * BIG,
        headers=form,
        follow_redirects=False,
    )
    assert action.status_code == 413
    logout = client.post("/_wr/admin/logout", content=big, headers=form, follow_redirects=False)
    assert logout.status_code == 413
    assert state_of(client) == before
    assert client.get(f"{API}/state").status_code == 200  # the session is still there


def test_empty_bodies(client: TestClient) -> None:
    before = state_of(client)
    for content in (b"", b"  \n", b"{}"):
        answer = call(client, "PATCH", "config", content=content, headers=JSON)
        assert answer.status_code == 400
        reset = call(client, "POST", "reset", content=content, headers=JSON)
        assert reset.status_code in (400, 422)
        assert "error" in reset.json()
    assert state_of(client) == before
    assert call(client, "POST", "close", content=b"", headers=JSON).status_code == 200
    assert call(client, "POST", "open-now", content=b"{}", headers=JSON).status_code == 200
    login = client.post("/_wr/admin/login", content=b"")
    assert login.status_code == 403


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("pause", {"mode": "closed"}, "mode"),
        ("resume", {"confirm": "prakerja"}, "confirm"),
        ("open-now", {"opens_at": 5}, "opens_at"),
        ("reset", {"confirm": "prakerja", "version": 3}, "version"),
    ],
)
def test_action_bodies_with_unknown_keys_get_422(
    client: TestClient, path: str, body: dict[str, Any], field: str
) -> None:
    before = state_of(client)
    answer = call(client, "POST", path, json=body)
    assert answer.status_code == 422
    assert answer.json()["field"] == field
    assert state_of(client) == before


ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "FOO")


@pytest.mark.parametrize("path", sorted(admin_routes()))
def test_wrong_methods_get_405_with_allow(client: TestClient, path: str) -> None:
    allowed = set(admin_routes()[path])
    if "GET" in allowed:
        allowed.add("HEAD")
    for method in ALL_METHODS:
        if method in allowed:
            continue
        answer = client.request(method, f"/_wr{path}", headers=BEARER, content=b"{}")
        assert answer.status_code == 405, (method, path)
        assert set(answer.headers["allow"].split(", ")) == set(admin_routes()[path])


# -- fuzz: nothing a client sends makes a 500, and a refusal changes nothing -------------------

FIELDS = ["mode", "rate_per_minute", "max_active", "session_lifetime", "grace_period", "opens_at"]
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.text(alphabet="0123456789-+.eE ²٣\uff11_", max_size=30)
    | st.from_regex(r"\A-?[0-9²٣\uff11]{1,6}\Z")  # digits to str.isdigit(), not all to int()
    | st.text(st.characters(min_codepoint=0xD7F0, max_codepoint=0xE00F), max_size=3)  # surrogates
    | st.sampled_from(["queue", "pause", "", " 60 ", "1e400", "2030-01-01T00:00+07:00", "nan"])
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
keys = (
    st.sampled_from([*FIELDS, "version", "actor", "confirm"])
    | st.text(max_size=10)
    | st.text(st.characters(min_codepoint=0xD7F0, max_codepoint=0xE00F), max_size=2)
)
bodies = st.dictionaries(keys, values, max_size=5)


@pytest.fixture
def fuzz_client(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    """The client, with the controller's tick jitter on a private RNG: the ticks run in the app's
    thread, and Hypothesis refuses a global ``random`` that moves while it generates data."""
    monkeypatch.setattr(controller, "random", random.Random(0))
    return client


FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@FUZZ
@given(body=bodies)
def test_fuzz_patch_config(fuzz_client: TestClient, body: dict[str, Any]) -> None:
    before = config(fuzz_client)
    content = json.dumps(body).encode()  # ASCII escapes: lone surrogates too (httpx's json= fails)
    answer = call(fuzz_client, "PATCH", "config", content=content, headers=JSON)
    assert answer.status_code < 500, answer.text
    assert answer.status_code in (200, 400, 409, 422), answer.text
    if answer.status_code != 200:
        assert "error" in answer.json()
        assert config(fuzz_client) == before


@FUZZ
@given(
    path=st.sampled_from(["pause", "resume", "close", "open-now", "reset"]),
    body=bodies | st.binary(max_size=64) | values,
    content_type=st.sampled_from([None, "application/json", "text/plain", "ü"]),
)
def test_fuzz_actions(
    fuzz_client: TestClient, path: str, body: Any, content_type: str | None
) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {} if content_type is None else {"content-type": content_type.encode()}
    before = config(fuzz_client)
    answer = call(fuzz_client, "POST", path, content=content, headers=headers)
    assert answer.status_code < 500, answer.text
    if answer.status_code != 200:
        assert "error" in answer.json()
        assert config(fuzz_client) == before


@FUZZ
@given(form=st.dictionaries(st.sampled_from(["token", "csrf", "name"]) | st.text(), st.text()))
def test_fuzz_login(fuzz_client: TestClient, form: dict[str, str]) -> None:
    answer = fuzz_client.post("/_wr/admin/login", data=form, follow_redirects=False)
    assert answer.status_code in (303, 400, 401, 403), answer.status_code


def test_the_body_limit_is_sane() -> None:
    assert 4 * 1024 <= admin_api.MAX_BODY <= 64 * 1024
