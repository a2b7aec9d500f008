"""End to end against a real two-worker gateway: propagation of a change to every worker,
optimistic concurrency between workers, and the ``gateway admin`` CLI as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.admin.conftest import TOKEN, Live
from tests.e2e.conftest import ROOT, stub_env

pytestmark = pytest.mark.e2e


def live_workers(live: Live) -> set[str]:
    deadline = time.monotonic() + 10
    while True:
        workers = live.api("GET", "state").json()["workers"]
        ids = {w["id"] for w in workers if w["live"]}
        if len(ids) == 2 or time.monotonic() > deadline:
            return ids
        time.sleep(0.1)


def test_a_change_is_in_effect_on_every_worker_within_a_second(live: Live) -> None:
    workers = live_workers(live)
    assert len(workers) == 2
    version = live.api("GET", "config").json()["config"]["version"]
    started = time.monotonic()
    answer = live.api("PATCH", "config", json={"rate_per_minute": 601, "version": version})
    assert answer.status_code == 200, answer.text
    new_version = answer.json()["version"]
    # Poll over fresh connections (each may land on either worker) until both have it.
    seen: dict[str, tuple[float, float]] = {}
    while len(seen) < 2 and time.monotonic() - started < 10:
        state = live.api("GET", "state").json()
        if state["config"]["version"] >= new_version and state["worker"] not in seen:
            seen[state["worker"]] = (time.monotonic() - started, state["config_seen_at"])
    assert set(seen) == workers
    entry = next(
        e for e in live.api("GET", "audit").json()["entries"] if e["version"] == new_version
    )
    # On the Redis clock: from the change to the tick in which each worker first had it.
    propagation = {worker: seen_at - entry["time"] for worker, (_, seen_at) in seen.items()}
    observed = max(elapsed for elapsed, _ in seen.values())
    print(
        "\npropagation (Redis clock): "
        + ", ".join(f"{w} {p * 1000:.0f} ms" for w, p in sorted(propagation.items()))
        + f"; both workers observed answering with it {observed * 1000:.0f} ms after the PATCH"
    )
    assert all(-0.01 <= p <= 1.0 for p in propagation.values()), propagation
    assert observed <= 1.0


def test_concurrent_patches_with_the_same_version_one_wins(live: Live) -> None:
    for round_ in range(5):
        version = live.api("GET", "config").json()["config"]["version"]
        # The worker answering may lag a tick behind: take the version from the audit log.
        version = max(version, live.api("GET", "audit?limit=1").json()["entries"][0]["version"])
        barrier = threading.Barrier(2)

        def patch(rate: int, version: int = version, barrier: Any = barrier) -> httpx.Response:
            barrier.wait()
            return live.api("PATCH", "config", json={"rate_per_minute": rate, "version": version})

        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(patch, [1000 + round_, 2000 + round_]))
        assert sorted(r.status_code for r in results) == [200, 409], [r.text for r in results]
        winner = next(r for r in results if r.status_code == 200).json()
        loser = next(r for r in results if r.status_code == 409).json()
        assert winner["version"] == version + 1
        assert loser["current_version"] == version + 1
        latest = live.api("GET", "audit?limit=1").json()["entries"][0]
        assert latest["version"] == version + 1
        assert latest["new"] == {"rate_per_minute": str(winner["config"]["rate_per_minute"])}


def cli(live: Live, *args: str, token: str | None = TOKEN) -> subprocess.CompletedProcess[str]:
    env = stub_env(WR_GATEWAY_URL=live.url, **({"WR_ADMIN_TOKEN": token} if token else {}))
    command = [sys.executable, "-c", "from gateway.cli import main; main()", "admin", *args]
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=30, cwd=ROOT, check=False
    )
    assert TOKEN not in result.stdout + result.stderr
    return result


def test_the_cli_against_a_running_gateway(live: Live) -> None:
    status = cli(live, "status")
    assert status.returncode == 0, status.stderr
    assert "mode" in status.stdout and "capacity" in status.stdout
    assert "2 live" in status.stdout

    changed = cli(live, "set", "--rate", "12000", "--max-active", "5000", "--actor", "cli-test")
    assert changed.returncode == 0, changed.stderr
    assert "rate 12,000/min" in changed.stdout and "max active 5,000" in changed.stdout
    version = int(changed.stdout.split("config version ")[1].split()[0])
    state = json.loads(cli(live, "status", "--json").stdout)
    assert state["capacity"]["summary"] == (
        "12,000/min = 200 registrations/s; NIK checks at 43.65 % = 87/s"
    )
    stale = cli(live, "set", "--session-lifetime", "900", "--version", str(version - 1))
    assert stale.returncode == 1
    assert "HTTP 409" in stale.stderr

    assert "mode pause" in cli(live, "pause").stdout
    opening = cli(live, "open-at", "2030-01-02T03:04+07:00")
    assert opening.returncode == 0, opening.stderr
    assert "opens at 2030-01-02T03:04+07:00" in opening.stdout
    opened = cli(live, "open-now")
    assert "mode queue" in opened.stdout and "opens at none" in opened.stdout

    audit = cli(live, "audit", "--limit", "10")
    assert audit.returncode == 0
    assert "cli-test" in audit.stdout
    assert "max_active: 100 -> 5000" in audit.stdout and "-> 12000" in audit.stdout
    assert "opens_at: - -> 2030-01-02T03:04+07:00" in audit.stdout
    assert "mode: queue -> pause" in audit.stdout


def test_the_cli_refuses_clearly(live: Live) -> None:
    cases: list[tuple[tuple[str, ...], str | None, int, str]] = [
        (("set", "--max-active", "0"), TOKEN, 1, "HTTP 422: max_active"),
        (("set",), TOKEN, 2, "nothing to set"),
        (("open-at", "2030-01-02T03:04"), TOKEN, 2, "offset"),
        (("reset", "--confirm", "yes"), TOKEN, 1, "confirm"),
        (("status",), None, 2, "WR_ADMIN_TOKEN"),
        (("status",), "not-the-token", 1, "HTTP 401"),
        (("status", "--url", "http://127.0.0.1:9"), TOKEN, 2, "cannot reach"),
    ]
    with ThreadPoolExecutor(len(cases)) as pool:
        results = list(pool.map(lambda case: cli(live, *case[0], token=case[1]), cases))
    for (args, _, code, message), result in zip(cases, results, strict=True):
        assert result.returncode == code, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
    entries = json.loads(cli(live, "audit", "--json").stdout)["entries"]
    assert not any(e["new"].get("max_active") == "0" for e in entries)


def test_the_cli_resets_only_with_the_event_id(live: Live) -> None:
    reset = cli(live, "reset", "--confirm", "prakerja")
    assert reset.returncode == 0, reset.stderr
    assert "starts over at epoch" in reset.stdout
