"""Settings from the environment and the flags of ``backend-stub``."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from backend_stub import cli
from backend_stub.app import create_app
from backend_stub.settings import StubSettings


def test_settings_come_from_stub_env_vars():
    settings = StubSettings.from_env(
        {
            "STUB_CAPACITY": "5",
            "STUB_QUEUE_TIMEOUT": "0.5",
            "STUB_NIK_CAPACITY": "2",
            "STUB_EXPOSE_TOKENS": "0",
            "STUB_SEED": "9",
            "STUB_TEMPLATES_DIR": "/tmp/x",
            "STUB_SERVICE_MS": "",  # empty means unset
            "UNRELATED": "1",
        }
    )
    assert settings.capacity == 5
    assert settings.queue_timeout == 0.5
    assert settings.nik_capacity == 2
    assert settings.expose_tokens is False
    assert settings.seed == 9
    assert settings.templates_dir == Path("/tmp/x")
    assert settings.service_ms == StubSettings().service_ms


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STUB_CAPACITY": "many"}, "STUB_CAPACITY"),
        ({"STUB_EXPOSE_TOKENS": "maybe"}, "STUB_EXPOSE_TOKENS"),
        ({"STUB_CAPACITY": "0"}, "capacity"),
        ({"STUB_SERVICE_JITTER": "2"}, "service_jitter"),
    ],
)
def test_bad_settings_name_the_culprit(env, message):
    with pytest.raises(ValueError, match=message):
        StubSettings.from_env(env)


def test_cli_flags_override_env(monkeypatch):
    ran: dict = {}
    monkeypatch.setattr(cli.uvicorn, "run", lambda app, **kw: ran.update(app=app, **kw))
    monkeypatch.setattr(cli.logging, "basicConfig", lambda **kw: None)
    monkeypatch.setenv("STUB_CAPACITY", "7")
    monkeypatch.setenv("STUB_NIK_LATENCY_MS", "50")
    monkeypatch.setenv("BACKEND_STUB_PORT", "9123")
    cli.main(["--nik-capacity", "3", "--nik-latency-ms", "20", "--expose-tokens", "no"])
    settings = ran["app"].state.runtime.settings
    assert (ran["host"], ran["port"]) == ("127.0.0.1", 9123)
    assert settings.capacity == 7  # from the environment
    assert settings.nik_capacity == 3  # from a flag
    assert settings.nik_latency_ms == 20  # the flag beats the environment
    assert settings.expose_tokens is False


def test_cli_refuses_bad_values(monkeypatch):
    monkeypatch.setattr(cli.uvicorn, "run", lambda app, **kw: None)
    monkeypatch.setattr(cli.logging, "basicConfig", lambda **kw: None)
    with pytest.raises(SystemExit, match="capacity"):
        cli.main(["--capacity", "0"])
    monkeypatch.setenv("STUB_QUEUE_LIMIT", "lots")
    with pytest.raises(SystemExit, match="STUB_QUEUE_LIMIT"):
        cli.main([])


async def test_create_app_without_arguments_reads_the_environment(monkeypatch):
    monkeypatch.setenv("STUB_CAPACITY", "11")
    app = create_app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://stub") as client:
            stats = (await client.get("/_stub/stats")).json()
    assert stats["capacity"]["stub"] == 11
    assert stats["capacity"]["nik_api"] == 8
