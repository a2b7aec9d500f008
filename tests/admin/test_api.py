"""The admin API in-process, on a real Redis: state, config changes, validation, versions,
actions, audit."""

from __future__ import annotations

import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.admin.conftest import API, BEARER


def api(client: TestClient, method: str, path: str, **kwargs: Any) -> Any:
    headers = {**BEARER, **kwargs.pop("headers", {})}
    return client.request(method, f"{API}/{path}", headers=headers, **kwargs)


def config(client: TestClient) -> dict[str, Any]:
    body: dict[str, Any] = api(client, "GET", "config").json()["config"]
    return body


def state_when(client: TestClient, ready: Any, timeout: float = 3.0) -> dict[str, Any]:
    """The state once ``ready(state)`` holds (workers refresh their snapshot every tick)."""
    deadline = time.monotonic() + timeout
    while True:
        state: dict[str, Any] = api(client, "GET", "state").json()
        if ready(state) or time.monotonic() > deadline:
            return state
        time.sleep(0.02)


def test_state_has_what_operators_watch(client: TestClient) -> None:
    for _ in range(3):
        client.post("/_wr/join", headers={"accept": "application/json"})
        client.cookies.clear()
    state = state_when(client, lambda s: s["tail"] == 3)
    assert set(state) >= {
        "event",
        "worker",
        "server_time",
        "epoch",
        "config",
        "tail",
        "serving",
        "queue_length",
        "active_sessions",
        "admission_rate_per_minute",
        "rates",
        "no_show_ratio",
        "eta_newcomer_seconds",
        "opening",
        "backend",
        "workers",
        "capacity",
    }
    assert state["event"] == "prakerja"
    assert state["config"]["version"] >= 1
    assert state["config"]["rate_per_minute"] == 600
    assert state["tail"] == 3
    assert state["queue_length"] == state["tail"] - state["serving"]
    assert 0 <= state["no_show_ratio"] <= 1
    assert [w["id"] for w in state["workers"] if w["this"]] == [state["worker"]]
    assert all(w["live"] for w in state["workers"])
    assert (
        state["capacity"]["summary"]
        == "600/min = 10 registrations/s; NIK checks at 43.65 % = 4.4/s"
    )
    assert set(state["backend"]) >= {"latency_ms_avg", "error_rate", "requests_per_second"}
    assert state["opening"]["opens_at"] is None


def test_a_change_is_in_effect_at_once_and_audited_with_old_and_new(client: TestClient) -> None:
    before = config(client)
    answer = api(
        client,
        "PATCH",
        "config",
        json={"rate_per_minute": 12000, "max_active": 5000, "version": before["version"]},
        headers={"x-wr-actor": "rina"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["version"] == before["version"] + 1
    assert body["config"]["rate_per_minute"] == 12000
    state = api(client, "GET", "state").json()
    assert state["config"]["version"] == body["version"]
    assert state["capacity"]["summary"] == (
        "12,000/min = 200 registrations/s; NIK checks at 43.65 % = 87/s"
    )
    api(client, "PATCH", "config", json={"session_lifetime": 900, "actor": "from-json"})
    api(client, "POST", "pause")
    entries = api(client, "GET", "audit").json()["entries"]
    assert [e["actor"] for e in entries[:3]] == ["admin", "from-json", "rina"]
    paused, lifetime, rate = entries[:3]
    assert paused["old"] == {"mode": "queue"} and paused["new"] == {"mode": "pause"}
    assert lifetime["old"] == {"session_lifetime": "600"}
    assert lifetime["new"] == {"session_lifetime": "900"}
    assert rate["old"] == {"rate_per_minute": "600", "max_active": "100"}
    assert rate["new"] == {"rate_per_minute": "12000", "max_active": "5000"}
    assert rate["version"] == body["version"]
    assert abs(rate["time"] - time.time()) < 30
    assert len(api(client, "GET", "audit?limit=2").json()["entries"]) == 2


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rate_per_minute": "fast"}, "rate_per_minute"),
        ({"rate_per_minute": -1}, "rate_per_minute"),
        ({"rate_per_minute": 1.5}, "rate_per_minute"),
        ({"max_active": 0}, "max_active"),
        ({"max_active": True}, "max_active"),
        ({"session_lifetime": 5}, "session_lifetime"),
        ({"grace_period": None}, "grace_period"),
        ({"mode": "party"}, "mode"),
        ({"opens_at": "tomorrow"}, "opens_at"),
        ({"opens_at": "2026-12-01T08:00"}, "opens_at"),  # no offset: ambiguous
        ({"opens_at": -5}, "opens_at"),
        ({"colour": "red"}, "colour"),
        ({"rate_per_minute": 60, "version": "7"}, "version"),
    ],
)
def test_invalid_values_get_422_naming_the_field(
    client: TestClient, changes: dict[str, Any], field: str
) -> None:
    before = config(client)
    answer = api(client, "PATCH", "config", json=changes)
    assert answer.status_code == 422
    assert answer.json()["field"] == field
    assert field in answer.json()["error"]
    assert config(client) == before


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"{junk", 400),
        (b"\xff\xfe", 400),
        (b"[1, 2]", 400),
        (b'"rate"', 400),
        (b"{}", 400),
        (b"", 400),
        (b'{"version": 3}', 400),
        (b'{"rate_per_minute": 1}' + b" " * 20000, 413),
    ],
)
def test_junk_bodies_get_a_clear_4xx(client: TestClient, content: bytes, status: int) -> None:
    before = config(client)
    answer = api(
        client, "PATCH", "config", content=content, headers={"content-type": "application/json"}
    )
    assert answer.status_code == status
    assert "error" in answer.json()
    assert config(client) == before


def test_a_stale_version_gets_409(client: TestClient) -> None:
    version = config(client)["version"]
    first = api(client, "PATCH", "config", json={"rate_per_minute": 700, "version": version})
    assert first.status_code == 200
    second = api(client, "PATCH", "config", json={"rate_per_minute": 800, "version": version})
    assert second.status_code == 409
    assert second.json()["current_version"] == version + 1
    assert config(client)["rate_per_minute"] == 700


def test_actions(client: TestClient) -> None:
    assert api(client, "POST", "pause").json()["config"]["mode"] == "pause"
    assert api(client, "POST", "resume").json()["config"]["mode"] == "queue"
    assert api(client, "POST", "close").json()["config"]["mode"] == "closed"
    later = api(client, "PATCH", "config", json={"opens_at": "2030-01-02T03:04:05+07:00"})
    assert later.json()["config"]["opens_at"] == 1893528245.0
    state = api(client, "GET", "state").json()
    assert state["opening"]["opens_at_iso"] == "2030-01-02T03:04:05+07:00"
    assert state["opening"]["opens_in_seconds"] > 0
    opened = api(client, "POST", "open-now").json()["config"]
    assert opened["mode"] == "queue" and opened["opens_at"] is None
    version = opened["version"]
    stale = api(client, "POST", "pause", json={"version": version - 1})
    assert stale.status_code == 409
    assert api(client, "POST", "pause", content=b"{junk").status_code == 400
    assert api(client, "DELETE", "config").status_code == 405
    assert api(client, "GET", "pause").status_code == 405


def test_reset_needs_the_event_id(client: TestClient) -> None:
    client.post("/_wr/join", headers={"accept": "application/json"})
    epoch = api(client, "GET", "state").json()["epoch"]
    for body in ({}, {"confirm": "yes"}, {"confirm": "PRAKERJA"}):
        answer = api(client, "POST", "reset", json=body)
        assert answer.status_code == 422
        assert answer.json()["field"] == "confirm"
    assert api(client, "POST", "reset").status_code == 400
    assert state_when(client, lambda s: s["tail"] == 1)["tail"] == 1
    answer = api(client, "POST", "reset", json={"confirm": "prakerja"}, headers={"x-wr-actor": "o"})
    assert answer.status_code == 200
    assert answer.json()["epoch"] > epoch
    state = api(client, "GET", "state").json()
    assert state["epoch"] == answer.json()["epoch"]
    assert state["tail"] == 0
    entry = api(client, "GET", "audit").json()["entries"][0]
    assert entry["actor"] == "o" and "reset" in entry["new"]


def test_the_series_follows_the_room(client: TestClient) -> None:
    deadline = time.monotonic() + 5
    points: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        client.post("/_wr/join", headers={"accept": "application/json"})
        client.cookies.clear()
        points = api(client, "GET", "series?step=1").json()["points"]
        if any(p["arrivals"] > 0 for p in points):
            break
        time.sleep(0.2)
    assert points and any(p["arrivals"] > 0 for p in points)
    assert set(points[-1]) == {"t", "arrivals", "admissions", "queue", "active"}
    assert [p["t"] for p in points] == sorted(p["t"] for p in points)
