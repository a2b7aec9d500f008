"""End-to-end fixtures: real processes (embedded Redis, backend stub, gateway) on free ports."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.processes import Child, clean_env, start_child
from waitingroom.embedded import EmbeddedRedis, free_port

ROOT = Path(__file__).resolve().parents[2]


Proc = Child


def start_process(
    args: list[str], env: dict[str, str], url: str, ready_path: str, log: Path, timeout: float = 30
) -> Proc:
    return start_child(log.stem, args, env, url, ready_path, log, ROOT, timeout)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(data_dir=tmp_path / "redis") as server:
        yield server


stub_env = clean_env


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Proc]:
    port = free_port()
    proc = start_process(
        [*python("from backend_stub.cli import main; main()"), "--port", str(port)],
        stub_env(STUB_NIK_LATENCY_MS="5", STUB_SEED="1"),
        f"http://127.0.0.1:{port}",
        "/",
        tmp_path / "backend.log",
    )
    yield proc
    proc.stop()


def start_gateway(
    tmp_path: Path, redis_url: str, backend_url: str, workers: int = 2, **settings: str
) -> Proc:
    port = free_port()
    env = stub_env(
        WR_REDIS_URL=redis_url,
        WR_BACKEND_URL=backend_url,
        WR_SECRET_KEYS="e2e-secret-key",
        WR_DATA_DIR=str(tmp_path / "wr"),
        WR_TICK_INTERVAL="0.1",
        **{f"WR_{k.upper()}": v for k, v in settings.items()},
    )
    args = [*python("from gateway.cli import main; main()"), "serve", "--port", str(port)]
    args += ["--workers", str(workers)]
    return start_process(
        args, env, f"http://127.0.0.1:{port}", "/_wr/healthz", tmp_path / f"gateway-{port}.log"
    )
