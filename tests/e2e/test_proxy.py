"""The reverse proxy against a real backend process: forwarded headers, hop-by-hop headers,
credentials stripped, bodies streamed, the outbound ceiling, logs without secrets, metrics
aggregated over two workers."""

from __future__ import annotations

import concurrent.futures
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ROOT, Proc, python, start_gateway, start_process, stub_env
from tests.e2e.test_failure_modes import admitted_client
from waitingroom.embedded import EmbeddedRedis, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def echo_backend(tmp_path: Path) -> Iterator[Proc]:
    port = free_port()
    args = [*python(f"import uvicorn; uvicorn.run('tests.e2e.slow_backend:app', port={port})")]
    proc = start_process(
        args, stub_env(PYTHONPATH=str(ROOT)), f"http://127.0.0.1:{port}", "/", tmp_path / "echo.log"
    )
    yield proc
    proc.stop()


def test_forwarding_headers_and_streamed_bodies(
    tmp_path: Path, redis_server: EmbeddedRedis, echo_backend: Proc
) -> None:
    gateway = start_gateway(tmp_path, redis_server.url, echo_backend.url)
    try:
        user = admitted_client(gateway.url)
        user.cookies.set("app_cookie", "1")
        reply = user.get(
            "/headers",
            headers={
                "connection": "keep-alive, x-hop",
                "x-hop": "secret-hop",
                "x-forwarded-for": "6.6.6.6",
                "te": "trailers",
                "x-request-id": "req-123",
            },
        )
        text = reply.text.lower()
        assert "x-forwarded-for: 127.0.0.1" in text  # the spoofed value is not believed
        assert "6.6.6.6" not in text
        assert "x-forwarded-proto: http" in text
        assert "x-forwarded-host: 127.0.0.1" in text
        assert "x-hop" not in text  # named in Connection: hop-by-hop
        assert "\nte:" not in text
        assert "x-request-id: req-123" in text  # propagated to the backend
        assert reply.headers["x-request-id"] == "req-123"
        assert "wr_pass" not in text and "wr_ticket" not in text  # our credentials stay here
        assert "app_cookie=1" in text  # the app's own cookies go through
        # A 3 MB upload streams through.
        body = b"x" * (3 * 1024 * 1024)
        posted = user.post("/headers", content=body)
        assert f"body-bytes: {len(body)}" in posted.text
        user.close()
    finally:
        gateway.stop()
    log = gateway.output()
    token = str(user.cookies.get("wr_pass"))
    assert token not in log
    assert "e2e-secret-key" not in log


def test_outbound_ceiling_answers_503_instead_of_piling_up(
    tmp_path: Path, redis_server: EmbeddedRedis, echo_backend: Proc
) -> None:
    gateway = start_gateway(
        tmp_path, redis_server.url, echo_backend.url, workers=1, backend_rps="5"
    )
    try:
        user = admitted_client(gateway.url)
        cookies = dict(user.cookies)
        user.close()

        def one(_: int) -> tuple[int, str | None]:
            reply = httpx.get(
                gateway.url + "/", cookies=cookies, headers={"accept": "application/json"}
            )
            return reply.status_code, reply.headers.get("retry-after")

        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            results = list(pool.map(one, range(40)))
        elapsed = time.monotonic() - started
        codes = [code for code, _ in results]
        assert set(codes) <= {200, 503}
        assert codes.count(200) >= 1
        # 5 a second (and what the bucket holds at the start): the rest is refused at once.
        assert codes.count(200) <= 5 * elapsed + 6, (codes, elapsed)
        assert codes.count(503) >= 1
        assert all(retry for code, retry in results if code == 503)
        assert elapsed < 10  # nothing piled up
    finally:
        gateway.stop()


def test_metrics_aggregate_both_workers(
    tmp_path: Path, redis_server: EmbeddedRedis, backend: Proc
) -> None:
    gateway = start_gateway(tmp_path, redis_server.url, backend.url, rate_per_minute="0")
    try:
        for _ in range(30):
            httpx.post(gateway.url + "/_wr/join", timeout=5)  # new connections: both workers
        text = httpx.get(gateway.url + "/_wr/metrics", timeout=5).text
        arrivals = [line for line in text.splitlines() if line.startswith("wr_arrivals_total")]
        assert arrivals
        assert float(arrivals[0].split()[-1]) == 30
    finally:
        gateway.stop()


def test_huge_headers_and_bodies_on_the_real_server(
    tmp_path: Path, redis_server: EmbeddedRedis, echo_backend: Proc
) -> None:
    gateway = start_gateway(
        tmp_path, redis_server.url, echo_backend.url, workers=1, max_body_bytes="1000000"
    )
    try:
        big = httpx.get(gateway.url + "/", headers={"x-big": "a" * 1_000_000}, timeout=10)
        assert big.status_code in (400, 431)
        cookie = httpx.get(gateway.url + "/", cookies={"wr_ticket": "a" * 70_000}, timeout=10)
        assert cookie.status_code in (400, 431)
        user = admitted_client(gateway.url)
        declared = user.post("/headers", content=b"x" * 2_000_000)
        assert declared.status_code == 413

        def chunks():  # no Content-Length: counted as it streams
            for _ in range(30):
                yield b"y" * 100_000

        streamed = user.post("/headers", content=chunks())
        assert streamed.status_code == 413
        user.close()
    finally:
        gateway.stop()
    assert "Traceback" not in gateway.output()


def test_an_upload_cut_short_never_reaches_the_backend_as_whole(
    tmp_path: Path, redis_server: EmbeddedRedis, echo_backend: Proc
) -> None:
    gateway = start_gateway(tmp_path, redis_server.url, echo_backend.url, workers=1)
    try:
        user = admitted_client(gateway.url)
        cookie = "; ".join(f"{name}={value}" for name, value in user.cookies.items())
        host, port = "127.0.0.1", int(gateway.url.rsplit(":", 1)[1].strip("/"))
        with socket.create_connection((host, port), timeout=5) as raw:
            raw.sendall(
                b"POST /record HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + f"Cookie: {cookie}\r\n".encode()
                + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
            )
            time.sleep(0.5)  # the proxy has started the upstream request with the first chunk
        # The client vanished without the final chunk: the backend must not act on "hello".
        time.sleep(1.0)
        assert user.get("/records").text == ""
        whole = user.post("/record", content=b"hello")
        assert whole.text == "recorded 5"
        assert user.get("/records").text == "5"
        user.close()
    finally:
        gateway.stop()
    assert "Traceback" not in gateway.output()
