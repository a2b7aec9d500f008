"""`gateway serve` and `gateway dev` never print a password of the Redis URL (review C7)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway import cli
from gateway.settings import Settings, mask_url

REDIS_URL = "redis://:s3cret-pw@127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (REDIS_URL, "redis://:****@127.0.0.1:6379/0"),
        ("redis://admin:s3cret-pw@db:6380/2", "redis://admin:****@db:6380/2"),
        ("rediss://:s3cret%40pw@db.example:6380", "rediss://:****@db.example:6380"),
        ("redis://s3cret-pw@db:6379", "redis://****@db:6379"),
        ("redis://:p@ss@s3cret-pw@db:6379/0", "redis://:****@db:6379/0"),
        ("unix://:s3cret-pw@/run/redis.sock?db=0", "unix://:****@/run/redis.sock?db=0"),
        ("redis://db:6379/0?password=s3cret-pw&db=1", "redis://db:6379/0?password=****&db=1"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:s3cret-pw@[::1:6379/0", "redis://****@[::1:6379/0"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked
    assert "s3cret" not in mask_url(url)


def test_settings_repr_leaves_the_redis_url_out() -> None:
    settings = Settings.from_env({"WR_REDIS_URL": REDIS_URL})
    assert settings.redis_url == REDIS_URL
    assert "s3cret" not in repr(settings)


@pytest.fixture
def environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI writes its settings into os.environ for the workers: put it back afterwards."""
    saved = dict(os.environ)
    monkeypatch.setenv("WR_DATA_DIR", str(tmp_path / "wr"))
    monkeypatch.setenv("WR_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("WR_BACKEND_URL", "http://stub:b4ckend-pw@127.0.0.1:8001")
    monkeypatch.setattr(cli, "configure", lambda *args, **kwargs: None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.mark.usefixtures("environ")
def test_serve_prints_the_redis_url_without_its_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started: dict[str, Any] = {}

    def run(app: str, **kwargs: Any) -> None:
        started["app"] = app
        started["redis_url"] = os.environ["WR_REDIS_URL"]

    monkeypatch.setattr(cli.uvicorn, "run", run)
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", "--workers", "1"])
    assert exited.value.code == 0
    assert started == {"app": "gateway.app:create_served_app", "redis_url": REDIS_URL}
    out, err = capsys.readouterr()
    assert "s3cret" not in out + err
    assert "redis at redis://:****@127.0.0.1:6379/0" in err


class FakeChild:
    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.args = args

    def poll(self) -> int:
        return 0

    def send_signal(self, signum: int) -> None:
        pass

    def wait(self, timeout: float | None = None) -> int:
        return 0

    def kill(self) -> None:
        pass


@pytest.mark.usefixtures("environ")
def test_dev_prints_urls_without_passwords(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli.subprocess, "Popen", FakeChild)
    monkeypatch.setattr(cli.signal, "signal", lambda *args: None)
    with pytest.raises(SystemExit):
        cli.main(["dev", "--port", "8000", "--backend-port", "8001"])
    out, err = capsys.readouterr()
    assert "s3cret" not in out + err
    assert "b4ckend" not in out + err
    assert "redis          redis://:****@127.0.0.1:6379/0" in out
    assert "http://stub:****@127.0.0.1:8001" in out
