"""Invariant 6 and 2: bad input gets a clear 4xx (or the waiting page), never a 500, and never
reaches the app without a pass."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.gateway.conftest import BROWSER, JSON, Gateway, seen

COOKIE_JUNK = [
    "",
    "x",
    "a" * 5000,
    "prakerja.1.1.1.AAAA",
    "prakerja.1.1.1." + "A" * 43,
    "../../etc/passwd",
    "%C3%A9%00",
    "prakerja..1.1.AAAA",
    '"quoted"',
    "null",
]


@pytest.fixture
def closed_gate(gateway_factory) -> Gateway:  # type: ignore[no-untyped-def]
    gateway: Gateway = gateway_factory(rate_per_minute=0)
    return gateway


@pytest.mark.parametrize("junk", COOKIE_JUNK)
def test_malformed_ticket_cookie_is_no_cookie(closed_gate: Gateway, junk: str) -> None:
    user = closed_gate.user()
    user.cookies.set("wr_ticket", junk)
    page = user.get("/register")
    assert page.status_code == 200
    assert page.headers["x-wr-status"] == "waiting"  # a fresh place in line
    status = user.get("/_wr/status", headers=JSON)
    assert status.status_code == 200
    app = closed_gate.user(JSON)
    reply = app.get("/_wr/status", headers={"x-wr-ticket": junk or "x"})
    assert reply.status_code == 401
    assert reply.json()["error"]
    assert seen == []


@pytest.mark.parametrize("junk", COOKIE_JUNK)
def test_malformed_pass_never_admits(closed_gate: Gateway, junk: str) -> None:
    user = closed_gate.user(JSON)
    user.cookies.set("wr_pass", junk)
    assert user.get("/register").headers["x-wr-status"] in ("waiting", "paused")
    assert user.post("/register", json={}).status_code == 429
    assert seen == []


def test_a_ticket_presented_as_a_pass_never_admits(closed_gate: Gateway) -> None:
    user = closed_gate.user(JSON)
    ticket = user.post("/_wr/join").json()["ticket"]
    reply = closed_gate.user(JSON).get("/register", headers={"x-wr-pass": ticket})
    assert reply.headers["x-wr-status"] in ("waiting", "paused")
    user.cookies.set("wr_pass", ticket)
    assert user.get("/register").headers["x-wr-status"] in ("waiting", "paused")
    assert seen == []


def test_a_pass_from_another_event_or_key_never_admits(closed_gate: Gateway) -> None:
    from waitingroom.tokens import TokenSigner

    forged = TokenSigner(["not-our-key"], "prakerja").sign_pass("1-1", 1, 600)[1]
    other = TokenSigner(closed_gate.runtime.settings.secret_key_values, "other-event").sign_pass(
        "1-1", 1, 600
    )[1]
    for token in (forged, other):
        reply = closed_gate.user(JSON).get("/register", headers={"x-wr-pass": token})
        assert "x-wr-status" in reply.headers
    # Validly signed by us, but for a session that never existed.
    real_key = TokenSigner(closed_gate.runtime.settings.secret_key_values, "prakerja")
    epoch = closed_gate.runtime.room.snapshot.epoch  # type: ignore[union-attr]
    ghost = real_key.sign_pass(f"{epoch}-999999", 999999, 600)[1]
    reply = closed_gate.user(JSON).get("/register", headers={"x-wr-pass": ghost})
    assert "x-wr-status" in reply.headers
    assert seen == []


def test_reserved_prefix_wrong_methods_unknown_paths_traversal(gateway: Gateway) -> None:
    client = gateway.user(JSON)
    assert client.get("/_wr/join").status_code == 405
    assert client.get("/_wr/join").headers["allow"] == "POST"
    assert client.post("/_wr/status").status_code == 405
    assert client.request("DELETE", "/_wr/leave").status_code == 405
    assert client.request("BREW", "/_wr/status").status_code == 405
    for path in ("/_wr/nope", "/_wr/%2e%2e/register", "/_wr/status/%2e%2e/%2e%2e/x"):
        assert client.get(path).status_code == 404, path
    # Clients resolve plain dot-segments themselves: what arrives is a protected path.
    assert "x-wr-status" in client.get("/_wr/../register").headers
    assert client.get("/_wr").status_code == 404
    assert seen == []


def test_junk_bodies_on_reserved_routes(gateway: Gateway) -> None:
    client = gateway.user(JSON)
    for body in (b"{", b"\xff\xfe", b"[]" * 10000, b"null"):
        reply = client.post("/_wr/join", content=body, headers={"content-type": "application/json"})
        assert reply.status_code == 200  # join takes no body: junk is ignored, not fatal
        assert reply.json()["ticket"]


def test_junk_accept_language_and_query(closed_gate: Gateway) -> None:
    user = closed_gate.user()
    for value in ("", "*", "q=0.9", "id;q=abc,en;q=", "x" * 3000, "en;q=1e999,id;q=-1"):
        reply = user.get("/", headers={"accept-language": value})
        assert reply.status_code == 200
    assert user.get("/?lang=xx&lang=en&%zz=1").status_code == 200
    assert user.get("/?" + "a=b&" * 500).status_code == 200


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ticket=st.text(max_size=200),
    wr_pass=st.text(max_size=200),
    eta=st.text(max_size=40),
    accept=st.sampled_from(["application/json", "text/html", "*/*", ""]),
    method=st.sampled_from(["GET", "POST", "HEAD", "OPTIONS"]),
)
def test_fuzzed_cookies_never_500_never_admit(
    closed_gate: Gateway, ticket: str, wr_pass: str, eta: str, accept: str, method: str
) -> None:
    def printable(value: str) -> str:
        return "".join(ch for ch in value if 33 <= ord(ch) < 127 and ch not in ';,"\\')

    user = closed_gate.user({"accept": accept} if accept else BROWSER)
    user.cookies.set("wr_ticket", printable(ticket))
    user.cookies.set("wr_pass", printable(wr_pass))
    user.cookies.set("wr_eta", printable(eta))
    reply = user.request(method, "/register")
    assert reply.status_code in (200, 400, 429), reply.status_code
    assert seen == []


def test_huge_headers_get_431(gateway: Gateway) -> None:
    client = gateway.user(JSON)
    assert client.get("/", headers={"x-big": "a" * 20_000}).status_code == 431
    client.cookies.set("wr_ticket", "a" * 20_000)
    assert client.get("/_wr/status").status_code == 431
    many = {f"x-h{i}": "1" for i in range(120)}
    assert gateway.user(JSON).get("/", headers=many).status_code == 431
    assert seen == []
