from __future__ import annotations

import random

import pytest
import redis.asyncio as aioredis

from waitingroom.clock import ManualClock
from waitingroom.config import RoomConfig
from waitingroom.keys import Keys
from waitingroom.room import Room
from waitingroom.store import RedisStore
from waitingroom.tokens import TokenSigner

SECRET = "test-secret-key"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def keys() -> Keys:
    return Keys("wrtest", "prakerja")


@pytest.fixture
def store(redis_client: aioredis.Redis, keys: Keys, clock: ManualClock) -> RedisStore:
    return RedisStore(redis_client, keys, clock)


def make_room(
    store: RedisStore, clock: ManualClock, config: RoomConfig | None = None, seed: int = 1
) -> Room:
    signer = TokenSigner([SECRET], store.keys.event, clock)
    return Room(store, signer, SECRET, config or RoomConfig(), clock, random.Random(seed))
