"""End-to-end fixtures: real processes (embedded Redis, backend stub, gateway) on free ports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from waitingroom.embedded import EmbeddedRedis, free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Proc:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 25.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def start_process(
    args: list[str], env: dict[str, str], url: str, ready_path: str, log: Path, timeout: float = 30
) -> Proc:
    handle = log.open("wb")
    process = subprocess.Popen(args, env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)
    handle.close()
    proc = Proc(process, url, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{args} exited {process.returncode}:\n{proc.output()}")
        try:
            if httpx.get(url + ready_path, timeout=1).status_code < 500:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.stop(signal.SIGKILL)
    raise RuntimeError(f"{args} not ready after {timeout} s:\n{proc.output()}")


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(data_dir=tmp_path / "redis") as server:
        yield server


def stub_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WR_", "STUB_"))}
    env.update(extra)
    return env


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
