"""`gateway serve` against a Redis that needs a password: it works, and neither its own output
nor its workers' logs ever show the password (review C7)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import redis

from tests.e2e.conftest import Proc, start_gateway
from waitingroom.embedded import EmbeddedRedis

pytestmark = pytest.mark.e2e

PASSWORD = "s3cret-Redis-pw"


def test_serve_masks_the_redis_password(
    tmp_path: Path, redis_server: EmbeddedRedis, backend: Proc
) -> None:
    client = redis.Redis(host=redis_server.host, port=redis_server.port)
    client.config_set("requirepass", PASSWORD)
    client.close()
    url = f"redis://:{PASSWORD}@{redis_server.host}:{redis_server.port}/0"
    gateway = start_gateway(tmp_path, url, backend.url, workers=1)
    try:
        ready = httpx.get(gateway.url + "/_wr/readyz", timeout=5)
        assert ready.json()["redis"] == "ok"  # the password reached Redis
        joined = httpx.post(gateway.url + "/_wr/join", headers={"accept": "application/json"})
        assert joined.json()["position"] >= 1
    finally:
        gateway.stop()
    output = gateway.output()
    assert f"redis at redis://:****@{redis_server.host}:{redis_server.port}/0" in output
    assert PASSWORD not in output
