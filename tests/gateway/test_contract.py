"""The public contract of DESIGN.md, in-process (the middleware in front of a small app)."""

from __future__ import annotations

import time
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.testclient import TestClient

from gateway import WaitingRoomMiddleware, waiting_room_lifespan
from tests.gateway.conftest import BROWSER, JSON, Gateway, backend_app, make_settings, seen


def wait_for(gateway: Gateway, user: object, status: str, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = user.get("/_wr/status").json()  # type: ignore[attr-defined]
        if body["status"] == status:
            return body  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"never {status}")


def test_browser_gets_the_waiting_page_in_place(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gateway = gateway_factory(rate_per_minute=0)
    user = gateway.user()
    page = user.get("/register?x=1")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["x-wr-status"] == "waiting"
    assert "Nomor antrean Anda" in page.text  # Bahasa Indonesia by default
    assert 'aria-live="polite"' in page.text
    assert 'http-equiv="refresh"' in page.text  # works without JavaScript
    assert "/_wr/status" in page.text  # and polls with it
    assert len(page.content) < 20_000
    assert "<link" not in page.text and "src=" not in page.text  # no external assets
    cookie = page.headers["set-cookie"]
    assert "wr_ticket=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http here
    english = user.get("/register", headers={"accept-language": "en-US,en;q=0.9"})
    assert "Your place in line" in english.text
    assert seen == []  # nothing reached the app


def test_json_clients_get_the_status_json(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gateway = gateway_factory(rate_per_minute=0)
    app = gateway.user(JSON)
    body = app.get("/anything").json()
    assert set(body) >= {
        "status",
        "event",
        "position",
        "ahead",
        "eta_seconds",
        "poll_after_seconds",
    }
    assert body["status"] == "paused" or body["status"] == "waiting"
    assert body["event"] == "prakerja"
    assert isinstance(body["ticket"], str)
    # An app without cookies carries the ticket in a header.
    bare = gateway.user(JSON)
    status = bare.get("/_wr/status", headers={"x-wr-ticket": body["ticket"]}).json()
    assert status["position"] == body["position"]


def test_join_is_idempotent_and_status_admits_with_a_pass(gateway: Gateway) -> None:
    user = gateway.user(JSON)
    first = user.post("/_wr/join").json()
    again = user.post("/_wr/join").json()
    assert first["position"] == again["position"]
    admitted = wait_for(gateway, user, "admitted")
    assert admitted["pass"]
    assert "wr_pass" in user.cookies
    reply = user.get("/register")
    assert reply.json()["path"] == "/register"
    # The app never sees our credentials.
    headers = seen[-1]["headers"]
    assert "wr_pass" not in headers.get("cookie", "")
    assert "x-wr-pass" not in headers
    # An app without cookies sends the pass as a header.
    app = gateway.user(JSON)
    assert app.get("/x", headers={"x-wr-pass": admitted["pass"]}).json()["path"] == "/x"


def test_admitted_browser_is_let_through_on_the_same_url(gateway: Gateway) -> None:
    user = gateway.user()
    user.get("/register")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        reply = user.get("/register")
        if "x-wr-status" not in reply.headers:
            break
        time.sleep(0.05)
    assert reply.json()["path"] == "/register"
    assert "wr_pass" in user.cookies


def test_non_get_without_a_pass_gets_429_and_is_never_forwarded(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gateway = gateway_factory(rate_per_minute=0)
    user = gateway.user()
    user.get("/")
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        reply = user.request(method, "/register", content=b"name=x")
        assert reply.status_code == 429
        assert int(reply.headers["retry-after"]) >= 1
    json_reply = gateway.user(JSON).post("/register", json={"a": 1})
    assert json_reply.status_code == 429
    assert json_reply.json()["error"]
    assert seen == []


def test_backend_release_command_ends_the_session_and_is_stripped(gateway: Gateway) -> None:
    user = gateway.user(JSON)
    user.post("/_wr/join")
    wr_pass = wait_for(gateway, user, "admitted")["pass"]
    done = user.post("/finish")
    assert done.text == "done"
    assert "x-wr-command" not in done.headers
    assert "wr_pass" not in user.cookies
    # The pass is worthless now, even replayed by hand.
    replay = gateway.user(JSON).get("/x", headers={"x-wr-pass": wr_pass})
    assert replay.headers["x-wr-status"] in ("waiting", "paused")


def test_leave_gives_up_the_place_and_the_session(gateway: Gateway) -> None:
    user = gateway.user(JSON)
    user.post("/_wr/join")
    wr_pass = wait_for(gateway, user, "admitted")["pass"]
    left = user.post("/_wr/leave").json()
    assert left == {"status": "left", "session_ended": True}
    assert "wr_ticket" not in user.cookies
    reply = gateway.user(JSON).get("/x", headers={"x-wr-pass": wr_pass})
    assert "x-wr-status" in reply.headers


def test_passthrough_and_closed_modes(gateway: Gateway) -> None:
    gateway.set_config(mode="passthrough")
    assert gateway.user().get("/open").json()["path"] == "/open"
    gateway.set_config(mode="closed")
    user = gateway.user()
    page = user.get("/open")
    assert page.headers["x-wr-status"] == "closed"
    assert "wr_ticket" not in user.cookies
    assert gateway.user(JSON).post("/_wr/join").json()["status"] == "closed"


def test_health_ready_and_metrics(gateway: Gateway) -> None:
    client = gateway.user(JSON)
    assert client.get("/_wr/healthz").json() == {"status": "ok"}
    ready = client.get("/_wr/readyz")
    assert ready.status_code == 200
    assert ready.json()["redis"] == "ok"
    client.post("/_wr/join")
    metrics = client.get("/_wr/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "wr_arrivals_total" in metrics.text
    assert "wr_queue_length" in metrics.text


def test_bypass_paths_need_no_pass_but_dot_segments_do(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gateway = gateway_factory(rate_per_minute=0)
    user = gateway.user(BROWSER)
    assert user.get("/static/app.css").json()["path"] == "/static/app.css"
    assert user.get("/favicon.ico").json()["path"] == "/favicon.ico"
    sneaky = user.get("/static/%2e%2e/register")
    assert sneaky.headers.get("x-wr-status") == "waiting"
    assert all(s["path"] != "/register" for s in seen)


def test_eta_shown_never_rises_between_polls(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gateway = gateway_factory(rate_per_minute=60)
    for _ in range(30):
        gateway.user(JSON).post("/_wr/join")
    user = gateway.user(JSON)
    first = user.post("/_wr/join").json()
    shown = [user.get("/_wr/status").json()["eta_seconds"]]
    gateway.set_config(rate_per_minute=6)  # ten times slower: estimates would jump up
    time.sleep(0.3)
    shown.append(user.get("/_wr/status").json()["eta_seconds"])
    assert shown[1][1] <= shown[0][1], shown
    # A different ticket starts afresh: the cookie names the position it was shown for.
    other = gateway.user(JSON)
    other.post("/_wr/join")
    other.cookies.set("wr_eta", f"{first['position']}.0.0.0")
    assert other.get("/_wr/status").json()["eta_seconds"][1] > 0


def test_release_command_is_stripped_on_passthrough_and_bypass_paths(
    gateway_factory: Any, redis_url: str
) -> None:
    gateway = gateway_factory(mode="passthrough")
    done = gateway.user().post("/finish")
    assert done.text == "done"
    assert "x-wr-command" not in done.headers
    settings = make_settings(redis_url)
    app = Starlette(
        routes=backend_app(),
        lifespan=waiting_room_lifespan(settings),
        middleware=[
            Middleware(WaitingRoomMiddleware, settings=settings, bypass_paths=("/finish",))
        ],
    )
    with TestClient(app) as client:
        bypassed = client.post("/finish")
        assert bypassed.text == "done"
        assert "x-wr-command" not in bypassed.headers
