"""Invariant 5 and graceful shutdown, with real processes: Redis stopped and restarted, the
backend killed and restarted, SIGTERM during a slow proxied request."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ROOT, Proc, python, start_gateway, start_process, stub_env
from waitingroom.embedded import EmbeddedRedis, free_port

pytestmark = pytest.mark.e2e

JSON = {"accept": "application/json"}


def admitted_client(url: str, timeout: float = 10) -> httpx.Client:
    client = httpx.Client(base_url=url, headers=JSON, timeout=5)
    client.post("/_wr/join")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/_wr/status").json()["status"] == "admitted":
            return client
        time.sleep(0.1)
    raise AssertionError("not admitted")


def poll_until(predicate, timeout: float = 10.0, interval: float = 0.1):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met in {timeout} s (last: {last!r})")


def test_redis_down_and_back(tmp_path: Path, backend: Proc) -> None:
    data = tmp_path / "redis"
    port = free_port()
    redis = EmbeddedRedis(data_dir=data, port=port).start()
    gateway = start_gateway(tmp_path, redis.url, backend.url, rate_per_minute="120", max_active="1")
    clients = []
    try:
        admitted = admitted_client(gateway.url)  # holds the only slot
        waiting = httpx.Client(base_url=gateway.url, headers=JSON, timeout=5)
        clients += [admitted, waiting]
        before = waiting.post("/_wr/join").json()
        assert before["status"] == "waiting"

        redis.stop()
        # Waiting users keep their place and get a page saying admission is paused.
        paused = poll_until(lambda: waiting.get("/_wr/status").json()["status"] == "paused")
        assert paused
        status = waiting.get("/_wr/status").json()
        assert status["position"] == before["position"]
        page = httpx.get(gateway.url + "/", cookies=waiting.cookies, timeout=5)
        assert page.status_code == 200
        assert page.headers["x-wr-status"] == "paused"
        # Newcomers get a clear 503 with Retry-After.
        newcomer = httpx.get(gateway.url + "/", headers=JSON, timeout=5)
        assert newcomer.status_code == 503
        assert newcomer.headers["retry-after"]
        assert httpx.post(gateway.url + "/_wr/join", timeout=5).status_code == 503
        # Admitted users keep going to the backend.
        through = admitted.get("/")
        assert through.status_code == 200
        assert "x-wr-status" not in through.headers
        assert httpx.get(gateway.url + "/_wr/readyz", timeout=5).status_code == 503

        redis = EmbeddedRedis(data_dir=data, port=port).start()
        poll_until(lambda: httpx.get(gateway.url + "/_wr/readyz", timeout=5).status_code == 200)
        # Nothing lost: the waiting user is still in line, newcomers queue behind them.
        status = poll_until(
            lambda: (s := waiting.get("/_wr/status").json())["status"] != "paused" and s
        )
        assert status["position"] == before["position"]
        later = httpx.post(gateway.url + "/_wr/join", headers=JSON, timeout=5).json()
        assert later["position"] > before["position"]
        admitted.post("/_wr/leave")  # frees the slot
        poll_until(lambda: waiting.get("/_wr/status").json()["status"] == "admitted")
    finally:
        gateway.stop()
        redis.stop()
        for client in clients:
            client.close()
    assert "Traceback" not in gateway.output()


def test_redis_restarted_empty_reissues_no_position(tmp_path: Path, backend: Proc) -> None:
    port = free_port()
    redis = EmbeddedRedis(data_dir=tmp_path / "r1", port=port).start()
    gateway = start_gateway(tmp_path, redis.url, backend.url, rate_per_minute="0")

    def join() -> int | None:
        reply = httpx.post(gateway.url + "/_wr/join", headers=JSON, timeout=5)
        return reply.json()["position"] if reply.status_code == 200 else None

    try:
        with httpx.Client(base_url=gateway.url, headers=JSON, timeout=5) as client:
            mine = client.post("/_wr/join").json()["position"]
            others = [join() for _ in range(20)]
            redis.kill()
            redis = EmbeddedRedis(data_dir=tmp_path / "r2", port=port).start()  # data lost
            # Newcomers get 503 until a controller tick has restored the counters.
            first = poll_until(join, timeout=15)
            after = [first, *(join() for _ in range(9))]
            assert None not in after
            assert min(after) > max([mine, *others])  # type: ignore[type-var]
            assert client.get("/_wr/status").json()["position"] == mine
    finally:
        gateway.stop()
        redis.stop()


def test_backend_down_and_back(tmp_path: Path, redis_server: EmbeddedRedis) -> None:
    port = free_port()
    args = [*python("from backend_stub.cli import main; main()"), "--port", str(port)]
    env = stub_env(STUB_NIK_LATENCY_MS="5")
    url = f"http://127.0.0.1:{port}"
    backend = start_process(args, env, url, "/", tmp_path / "b1.log")
    gateway = start_gateway(tmp_path, redis_server.url, url)
    try:
        user = admitted_client(gateway.url)
        assert user.get("/").status_code == 200
        backend.stop(signal.SIGKILL)
        down = user.get("/")
        assert down.status_code in (502, 503)
        assert down.json()["error"]
        page = httpx.get(
            gateway.url + "/", cookies=user.cookies, headers={"accept": "text/html"}, timeout=5
        )
        assert page.status_code in (502, 503)
        assert "text/html" in page.headers["content-type"]
        assert "Layanan pendaftaran" in page.text
        ready = httpx.get(gateway.url + "/_wr/readyz", timeout=5)
        assert ready.status_code == 503
        assert ready.json()["backend"] == "unavailable"
        backend = start_process(args, env, url, "/", tmp_path / "b2.log")
        assert user.get("/").status_code == 200
        poll_until(lambda: httpx.get(gateway.url + "/_wr/readyz", timeout=5).status_code == 200)
        user.close()
    finally:
        gateway.stop()
        backend.stop()


def test_sigterm_lets_a_slow_proxied_request_finish(
    tmp_path: Path, redis_server: EmbeddedRedis
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [*python(f"import uvicorn; uvicorn.run('tests.e2e.slow_backend:app', port={port})")]
    slow = start_process(args, stub_env(PYTHONPATH=str(ROOT)), url, "/", tmp_path / "slow.log")
    gateway = start_gateway(tmp_path, redis_server.url, url, shutdown_timeout="20")
    try:
        user = admitted_client(gateway.url)
        result: dict[str, object] = {}

        def call() -> None:
            try:
                reply = user.get("/slow?seconds=3", timeout=15)
                result["status"] = reply.status_code
                result["text"] = reply.text
            except httpx.HTTPError as exc:
                result["error"] = repr(exc)

        thread = threading.Thread(target=call)
        thread.start()
        time.sleep(1.0)  # the request is in flight at the backend
        gateway.process.send_signal(signal.SIGTERM)
        thread.join(20)
        user.close()
        assert result == {"status": 200, "text": "slow done"}
        assert gateway.process.wait(20) == 0
        # And it stopped accepting: new connections are refused.
        with pytest.raises(httpx.ConnectError):
            httpx.get(gateway.url + "/_wr/healthz", timeout=2)
    finally:
        gateway.stop()
        slow.stop()
