"""Review findings, in-process on a real Redis: WebSockets are held to the pass rule (C1), bypass
paths match exactly or by a "/"-ended prefix (C2), numbers in cookies and tokens are ASCII
digits (C3), the join redirect stays on the site (C4), an expired ticket can rejoin (C10)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.responses import PlainTextResponse
from starlette.websockets import WebSocketDisconnect

from gateway.endpoints import MAX_NEXT_LENGTH, _safe_next
from gateway.http import parse_eta_cookie
from gateway.middleware import WaitingRoomMiddleware
from gateway.settings import Settings
from tests.gateway.conftest import BROWSER, JSON, Gateway, User, seen
from waitingroom.errors import BadToken, TokenError
from waitingroom.tokens import TokenSigner, _parse_int

# Not ASCII digits, or not within bounds: never a number, never a 500.
BAD_NUMBERS = ["²", "١٢", "+1", " 1", "1 ", "-1", "1_000", "0x1", "1.0", "", "9" * 19, "9" * 400]


def admitted(gateway: Gateway, user: User, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = user.get("/_wr/status", headers=JSON).json()
        if body["status"] == "admitted":
            return body
        time.sleep(0.05)
    raise AssertionError("never admitted")


def clears_ticket(reply: Any) -> bool:
    return any(
        value.startswith("wr_ticket=") and "Max-Age=0" in value
        for value in reply.headers.get_list("set-cookie")
    )


# -- C1: WebSockets ---------------------------------------------------------------------------


def refused(gateway: Gateway, path: str, headers: dict[str, str] | None = None) -> int:
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        gateway.client.websocket_connect(path, headers=headers or {}),
    ):
        pass
    return closed.value.code


def test_websocket_without_a_pass_is_refused_with_1008(gateway_factory: Any) -> None:
    gateway: Gateway = gateway_factory(rate_per_minute=0)
    assert refused(gateway, "/ws") == 1008
    assert refused(gateway, "/ws", {"x-wr-pass": "forged"}) == 1008
    assert refused(gateway, "/ws", {"cookie": "wr_pass=forged"}) == 1008
    # A ticket is not a pass, not even over a socket.
    ticket = gateway.user(JSON).post("/_wr/join").json()["ticket"]
    assert refused(gateway, "/ws", {"x-wr-pass": ticket}) == 1008
    assert refused(gateway, "/ws", {"cookie": f"wr_ticket={ticket}"}) == 1008
    # The reserved prefix has no sockets; a look-alike of a bypass path needs a pass too.
    assert refused(gateway, "/_wr/status") == 1008
    assert refused(gateway, "/favicon.icows") == 1008
    assert refused(gateway, "/static/../ws") == 1008
    assert seen == []


def test_websocket_with_a_pass_or_on_a_bypass_path_goes_through(gateway: Gateway) -> None:
    user = gateway.user(JSON)
    user.post("/_wr/join")
    wr_pass = admitted(gateway, user)["pass"]
    for headers in ({"x-wr-pass": wr_pass}, {"cookie": f"wr_pass={wr_pass}; theme=dark"}):
        with gateway.client.websocket_connect("/ws", headers=headers) as ws:
            assert ws.receive_json() == {"path": "/ws"}
        # The app never sees our credentials.
        sent = seen[-1]["headers"]
        assert "x-wr-pass" not in sent
        assert "wr_pass" not in sent.get("cookie", "")
    with gateway.client.websocket_connect("/static/live") as ws:
        assert ws.receive_json() == {"path": "/static/live"}
    # A released session's pass no longer opens a socket.
    user.post("/_wr/leave")
    assert refused(gateway, "/ws", {"x-wr-pass": wr_pass}) == 1008


def test_websocket_in_passthrough_mode_goes_through(gateway: Gateway) -> None:
    gateway.set_config(mode="passthrough")
    with gateway.client.websocket_connect("/ws") as ws:
        assert ws.receive_json() == {"path": "/ws"}


# -- C2: bypass paths ---------------------------------------------------------------------------


def test_bypass_entries_match_exactly_unless_they_end_with_a_slash() -> None:
    middleware = WaitingRoomMiddleware(
        PlainTextResponse("app"), Settings(), bypass_paths=("/healthz", "/static/")
    )
    for path in ("/healthz", "/static/app.css", "/static/", "/static/a/b.js"):
        assert middleware._is_bypass(path), path
    for path in (
        "/healthzFOO",
        "/healthz/",
        "/healthz/x",
        "/static",
        "/static-evil",
        "/staticX/app.css",
        "/static/../admin",
        "/static/%2e%2e/admin",
        "/static\\..\\admin",
        "/",
        "",
    ):
        assert not middleware._is_bypass(path), path


def test_bypass_look_alikes_are_held(gateway_factory: Any) -> None:
    gateway: Gateway = gateway_factory(rate_per_minute=0)
    user = gateway.user(BROWSER)
    for path in ("/favicon.icoX", "/favicon.ico/x", "/robots.txt.bak", "/static-evil", "/static"):
        assert user.get(path).headers.get("x-wr-status") == "waiting", path
    assert seen == []
    for path in ("/favicon.ico", "/robots.txt", "/static/app.css"):
        assert user.get(path).json()["path"] == path


# -- C3: ASCII digits only ------------------------------------------------------------------------


@pytest.mark.parametrize("bad", BAD_NUMBERS)
@pytest.mark.parametrize("field", range(4))
def test_eta_cookie_with_a_bad_number_is_ignored(bad: str, field: int) -> None:
    parts = ["5", "10", "20", "4"]
    parts[field] = bad
    assert parse_eta_cookie(".".join(parts), 5) == (None, 0)
    assert parse_eta_cookie("5.10.20.4", 5) == ((10, 20), 4)


@given(st.text(max_size=60))
def test_eta_cookie_parser_never_raises(value: str) -> None:
    parse_eta_cookie(value, 1)


@pytest.mark.parametrize("bad", BAD_NUMBERS)
def test_token_numbers_are_ascii_digits(bad: str) -> None:
    with pytest.raises(BadToken):
        _parse_int(bad)
    assert _parse_int("0042") == 42
    assert _parse_int("9" * 18) == 10**18 - 1


@given(st.text(max_size=25))
def test_token_number_parser_raises_only_bad_token(text: str) -> None:
    try:
        value = _parse_int(text)
    except BadToken:
        return
    assert text.isascii() and text.isdigit() and value == int(text)


@pytest.mark.parametrize("bad", BAD_NUMBERS)
def test_validly_signed_tokens_with_bad_numbers_are_invalid(gateway: Gateway, bad: str) -> None:
    keys = gateway.runtime.settings.secret_key_values
    signer = TokenSigner(keys, "prakerja")
    now = str(int(time.time()))
    epoch = str(gateway.runtime.room.snapshot.epoch)  # type: ignore[union-attr]
    tickets = [
        f"prakerja.{bad}.1.{now}",
        f"prakerja.{epoch}.{bad}.{now}",
        f"prakerja.{epoch}.1.{bad}",
    ]
    passes = [f"prakerja.{epoch}-1.{bad}.{now}", f"prakerja.{epoch}-1.1.{bad}"]
    for payload in tickets:
        token = signer._tickets.sign(payload).decode()
        with pytest.raises(TokenError):
            signer.verify_ticket(token)
        assert gateway.runtime.room.read_ticket(token) is None
        if token.isascii():
            reply = gateway.user(JSON).get("/_wr/status", headers={"x-wr-ticket": token})
            assert reply.status_code == 401
    for payload in passes:
        token = signer._passes.sign(payload).decode()
        with pytest.raises(TokenError):
            signer.verify_pass(token)
        if token.isascii():
            reply = gateway.user(JSON).get("/register", headers={"x-wr-pass": token})
            assert "x-wr-status" in reply.headers
    assert seen == []


def raw_get(gateway: Gateway, path: str, headers: list[tuple[bytes, bytes]]) -> int:
    """A GET with header bytes exactly as given (an HTTP client would re-encode 0xB2), straight
    into the ASGI app as a server would hand it over. Returns the status code."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": dict(gateway.client.app_state),
    }
    sent: list[dict[str, Any]] = []

    async def call() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await gateway.client.app(scope, receive, send)

    gateway.client.portal.call(call)  # type: ignore[union-attr]
    status: int = sent[0]["status"]
    return status


def test_non_ascii_digits_in_the_eta_cookie_are_no_500(gateway_factory: Any) -> None:
    gateway: Gateway = gateway_factory(rate_per_minute=0)
    # "²" is the Latin-1 byte 0xB2 (headers are read as Latin-1): str.isdigit() says yes, int()
    # says no.
    for raw in (b"wr_eta=1.\xb2.3.4", b"wr_eta=\xb2.1.1.1", b"wr_eta=1.1.1.\xb9"):
        for accept in (b"text/html", b"application/json"):
            assert raw_get(gateway, "/register", [(b"accept", accept), (b"cookie", raw)]) == 200
    ticket = gateway.user(JSON).post("/_wr/join").json()["ticket"].encode()
    for raw in (b"1.\xb2.3.4", b"1.1.1.+1", b"1.1.1.1_0", b"\xb3.1.1.1"):
        cookie = b"wr_ticket=" + ticket + b"; wr_eta=" + raw
        headers = [(b"accept", b"application/json"), (b"cookie", cookie)]
        assert raw_get(gateway, "/_wr/status", headers) == 200
        assert raw_get(gateway, "/register", headers) == 200
    assert seen == []


# -- C4: the join redirect ------------------------------------------------------------------------

NEXT_CASES = [
    ("/register?x=1", "/register?x=1"),
    ("/daftar/langkah-2#form", "/daftar/langkah-2#form"),
    ("//evil.com", "/"),
    ("///evil.com", "/"),
    ("/\\evil.com", "/"),
    ("/\\/evil.com", "/"),
    ("/a\\b", "/"),
    ("https://evil.com", "/"),
    ("javascript:alert(1)", "/"),
    ("evil.com", "/"),
    ("/\r\nSet-Cookie:x=1", "/"),
    ("/\t/evil.com", "/"),
    ("/\x00", "/"),
    ("/\x7f", "/"),
    ("/\x85x", "/"),
    ("", "/"),
    ("/" + "a" * 3000, "/"),
    ("/" + "é" * 1000, "/"),  # under the bound, but not once encoded
    ("/daftar/é", "/daftar/%C3%A9"),
    ("/€", "/%E2%82%AC"),
    ("/a b", "/a%20b"),
    ("/\ufffd", "/%EF%BF%BD"),
]


@pytest.mark.parametrize(("value", "expected"), NEXT_CASES)
def test_safe_next(value: str, expected: str) -> None:
    assert _safe_next(value) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("next=%2Fregister%3Fx%3D1", "/register?x=1"),
        ("next=//evil.com", "/"),
        ("next=%2F%2Fevil.com", "/"),
        ("next=/%5Cevil.com", "/"),
        ("next=https://evil.com", "/"),
        ("next=https%3A%2F%2Fevil.com", "/"),
        ("next=/%0d%0aSet-Cookie:x", "/"),
        ("next=/%09/evil.com", "/"),
        ("next=/%E2%82%AC", "/%E2%82%AC"),
        ("next=/%FF%FE", "/%EF%BF%BD%EF%BF%BD"),  # not UTF-8: replaced, never a 500
        ("next=/daftar/%C3%A9", "/daftar/%C3%A9"),
    ],
)
def test_join_redirects_only_to_a_same_site_path(
    gateway_factory: Any, query: str, expected: str
) -> None:
    gateway: Gateway = gateway_factory(rate_per_minute=0)
    user = gateway.user(BROWSER)
    reply = user.post(f"/_wr/join?{query}", follow_redirects=False)
    assert reply.status_code == 303
    assert reply.headers["location"] == expected
    assert "wr_ticket" in user.cookies


def test_join_redirect_with_a_huge_next_is_bounded(gateway_factory: Any) -> None:
    gateway: Gateway = gateway_factory(rate_per_minute=0)
    for value in ("/" + "a" * 5000, "/" + "€" * 3000, "//" + "a" * 5000):
        reply = gateway.user(BROWSER).post(
            "/_wr/join?next=" + quote(value, safe=""), follow_redirects=False
        )
        assert reply.status_code == 303
        location = reply.headers["location"]
        assert location.startswith("/") and not location.startswith("//")
        assert len(location) <= MAX_NEXT_LENGTH


# -- C10: an expired ticket rejoins at the end of the line --------------------------------------


def test_an_expired_ticket_rejoins_at_the_tail_and_is_admitted_later(
    gateway_factory: Any,
) -> None:
    gateway: Gateway = gateway_factory(rate_per_minute=0, grace_period=0)
    user = gateway.user(JSON)
    first = user.post("/_wr/join").json()
    assert first["status"] == "waiting"
    # Its turn comes while nobody is looking, then passes: grace 0 expires it a second later.
    gateway.set_config(rate_per_minute=6000)
    deadline = time.monotonic() + 5
    while gateway.runtime.room.snapshot.serving < first["position"]:  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "never released"
        time.sleep(0.02)
    gateway.set_config(rate_per_minute=0)
    time.sleep(2.2)
    gateway.user(JSON).post("/_wr/join")  # someone else arrives meanwhile

    # An app that keeps its ticket in a header: joining again means a new, later place.
    app = gateway.user(JSON)
    again = app.post("/_wr/join", headers={"x-wr-ticket": first["ticket"]}).json()
    assert again["status"] == "waiting"
    assert again["position"] > first["position"] + 1
    assert again["ticket"] != first["ticket"]

    # The status JSON still says expired, and the stale ticket cookie goes.
    status = user.get("/_wr/status")
    assert status.json()["status"] == "expired"
    assert clears_ticket(status)
    assert "wr_ticket" not in user.cookies
    # So does the status JSON on a protected path, and the waiting page.
    for headers in (JSON, BROWSER):
        other = gateway.user(headers)
        other.cookies.set("wr_ticket", first["ticket"], domain="testserver.local")
        reply = other.get("/register")
        assert reply.headers["x-wr-status"] == "expired"
        assert clears_ticket(reply)
    # Even with the stale ticket still sent, join starts afresh.
    user.cookies.set("wr_ticket", first["ticket"], domain="testserver.local")
    rejoined = user.post("/_wr/join").json()
    assert rejoined["status"] == "waiting"
    assert rejoined["position"] > again["position"]
    assert user.cookies["wr_ticket"] == rejoined["ticket"]
    assert user.post("/_wr/join").json()["position"] == rejoined["position"]  # idempotent again

    gateway.set_config(rate_per_minute=6000, grace_period=300)
    wr_pass = admitted(gateway, user)["pass"]
    assert gateway.user(JSON).get("/register", headers={"x-wr-pass": wr_pass}).json() == {
        "path": "/register",
        "method": "GET",
        "body": "",
    }


def test_a_used_up_ticket_rejoins_instead_of_being_stuck(gateway: Gateway) -> None:
    user = gateway.user(JSON)
    first = user.post("/_wr/join").json()
    admitted(gateway, user)
    user.post("/finish")  # the backend ends the session: this ticket is spent
    spent = user.get("/_wr/status", headers={"x-wr-ticket": first["ticket"]}).json()
    assert spent["status"] == "expired"
    again = user.post("/_wr/join", headers={"x-wr-ticket": first["ticket"]}).json()
    assert again["position"] > first["position"]
    assert again["status"] in ("waiting", "admitted")
