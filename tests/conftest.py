"""Shared fixtures: a real Redis for the whole session (embedded unless WR_REDIS_URL is set),
flushed before every test that uses it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from waitingroom.embedded import EmbeddedRedis


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("WR_TEST_REDIS_URL") or os.environ.get("WR_REDIS_URL")
    if url:
        yield url
        return
    with EmbeddedRedis() as server:
        yield server.url


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    pool = aioredis.BlockingConnectionPool.from_url(redis_url, max_connections=32, timeout=10)
    client = aioredis.Redis.from_pool(pool)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()
