"""The whole way, with real processes: browser -> gateway -> waiting room (Redis) -> admitted ->
proxied to the backend stub."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Proc, start_gateway
from waitingroom.embedded import EmbeddedRedis

pytestmark = pytest.mark.e2e

BROWSER = {"accept": "text/html,application/xhtml+xml", "accept-language": "id-ID,id;q=0.9"}


def wait_until_admitted(client: httpx.Client, timeout: float) -> tuple[dict[str, object], float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get("/_wr/status").json()
        if status["status"] == "admitted":
            return status, time.monotonic()
        assert status["status"] == "waiting", status
        time.sleep(0.1)
    raise AssertionError("not admitted in time")


def test_browser_waits_is_admitted_and_reaches_the_registration_form(
    tmp_path: Path, redis_server: EmbeddedRedis, backend: Proc
) -> None:
    gateway = start_gateway(
        tmp_path, redis_server.url, backend.url, rate_per_minute="60", max_active="100"
    )
    try:
        with httpx.Client(base_url=gateway.url, headers=BROWSER, timeout=5) as first:
            # Someone ahead of us, so we really wait.
            first.get("/register")
            with httpx.Client(base_url=gateway.url, headers=BROWSER, timeout=5) as browser:
                page = browser.get("/register")
                assert page.status_code == 200
                assert page.headers["cache-control"] == "no-store"
                assert page.headers["x-wr-status"] == "waiting"
                assert "wr_ticket" in browser.cookies
                assert "Nomor antrean Anda" in page.text
                status = browser.get("/_wr/status").json()
                assert status["position"] == 2
                assert status["status"] == "waiting"
                # Still without a pass, the backend is out of reach, even for a POST.
                refused = browser.post("/register", data={"name": "x"})
                assert refused.status_code == 429
                assert "retry-after" in refused.headers

                started = time.monotonic()
                status, admitted_at = wait_until_admitted(browser, timeout=15)
                assert "wr_pass" in browser.cookies
                # 60 per minute: one a second, and we were second in line.
                assert admitted_at - started >= 0.5
                form = browser.get("/register")
                assert form.status_code == 200
                assert "x-wr-status" not in form.headers
                assert "<form" in form.text
                assert 'name="email"' in form.text
    finally:
        gateway.stop()
    assert "Traceback" not in gateway.output()


def test_three_applicants_admitted_in_arrival_order(
    tmp_path: Path, redis_server: EmbeddedRedis, backend: Proc
) -> None:
    gateway = start_gateway(
        tmp_path, redis_server.url, backend.url, rate_per_minute="30", max_active="100"
    )
    clients = [httpx.Client(base_url=gateway.url, headers=BROWSER, timeout=5) for _ in range(3)]
    try:
        for client in clients:
            assert client.get("/").status_code == 200
            time.sleep(0.05)
        positions = [client.get("/_wr/status").json()["position"] for client in clients]
        assert positions == sorted(positions)
        admitted: dict[int, float] = {}
        deadline = time.monotonic() + 20
        while len(admitted) < 3 and time.monotonic() < deadline:
            for i, client in enumerate(clients):
                if i not in admitted and client.get("/_wr/status").json()["status"] == "admitted":
                    admitted[i] = time.monotonic()
            time.sleep(0.05)
        assert sorted(admitted) == [0, 1, 2]
        assert admitted[0] <= admitted[1] <= admitted[2]
        for client in clients:
            assert client.get("/").status_code == 200
            assert "x-wr-status" not in client.get("/").headers
    finally:
        for client in clients:
            client.close()
        gateway.stop()


def test_gateway_dev_is_what_make_run_starts(tmp_path: Path) -> None:
    """`make run` = `gateway dev`: Redis, stub and gateway up, the printed URL serves the
    waiting page, and one signal stops all three."""
    import re
    import signal
    import subprocess
    import sys

    from tests.e2e.conftest import stub_env
    from waitingroom.embedded import free_port

    port, backend_port = free_port(), free_port()
    env = stub_env(WR_DATA_DIR=str(tmp_path / "wr"))
    args = [sys.executable, "-c", "from gateway.cli import main; main()", "dev"]
    args += ["--port", str(port), "--backend-port", str(backend_port)]
    process = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        url = None
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            match = re.search(r"waiting page\s+(http://\S+)", line)
            url = match.group(1) if match else None
        assert url == f"http://127.0.0.1:{port}/"
        page = None
        while time.monotonic() < deadline:
            try:
                page = httpx.get(url, headers=BROWSER, timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert page is not None
        assert page.status_code == 200
        assert page.headers["x-wr-status"] in ("waiting", "paused")
        assert (tmp_path / "wr" / "redis" / "appendonly.aof").exists() or any(
            (tmp_path / "wr" / "redis").rglob("*.aof")
        )
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(30)
        if process.stdout is not None:
            process.stdout.close()
    assert code == 0
    for probe in (port, backend_port):
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{probe}/", timeout=2)
