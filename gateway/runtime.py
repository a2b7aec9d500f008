"""Everything a worker opens at startup and closes at shutdown, handed to requests as lifespan
state (never module globals): the Redis pool, the room, its controller, the page renderer."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from gateway import metrics
from gateway.admin.sampler import Sampler
from gateway.pages import Pages
from gateway.settings import Settings
from waitingroom.controller import Controller
from waitingroom.embedded import EmbeddedRedis
from waitingroom.keys import Keys
from waitingroom.room import RESTORE_SECONDS, STALE_AFTER, Room
from waitingroom.store import RedisStore
from waitingroom.tokens import TokenSigner

log = logging.getLogger("gateway.runtime")

STATE_KEY = "waiting_room"


ReadyCheck = Callable[[], Awaitable[bool]]


@dataclass
class Runtime:
    settings: Settings
    redis: aioredis.Redis
    store: RedisStore
    room: Room
    controller: Controller
    pages: Pages
    # name -> check; the standalone app adds the backend. /_wr/readyz runs them all.
    ready_checks: dict[str, ReadyCheck] = field(default_factory=dict)
    # A per-worker history of the room for the admin dashboard, sampled on each tick.
    sampler: Sampler = field(default_factory=Sampler)


def _observe(room: Room) -> None:
    snap = room.snapshot
    if snap is not None:
        metrics.observe_snapshot(snap.tail, snap.serving, snap.active)


def redis_client(url: str) -> aioredis.Redis:
    """The gateway's Redis client (the benchmark's one-INCR ceiling uses the same)."""
    # A blocking pool: a burst of joins waits briefly for a connection instead of failing.
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=64,
        timeout=2.0,
        socket_connect_timeout=0.5,
        socket_timeout=1.0,
        # One quick retry: an outage must be noticed fast (the controller retries every tick).
        retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), 1),
    )
    return aioredis.Redis.from_pool(pool)


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    embedded: EmbeddedRedis | None = None
    url = settings.redis_url
    if url is None:
        # Single-process use (the CLI starts one Redis for all workers and sets WR_REDIS_URL).
        embedded = EmbeddedRedis().start()
        url = embedded.url
        log.info("started embedded redis-server on %s", url)
    if not settings.secret_keys:
        log.warning("WR_SECRET_KEYS is unset: using a random key, tickets won't survive restarts")
        settings = settings.with_generated_secret()
    client = redis_client(url)
    keys = settings.secret_key_values
    store = RedisStore(client, Keys(settings.redis_prefix, settings.event))
    room = Room(
        store,
        TokenSigner(keys, settings.event),
        keys[0],
        settings.room,
        stale_after=max(STALE_AFTER, 4 * settings.tick_interval),
        restore_seconds=max(RESTORE_SECONDS, 2 * settings.tick_interval),
    )
    sampler = Sampler()

    def on_tick(room: Room) -> None:
        _observe(room)
        sampler.observe(room)

    controller = Controller(
        room, settings.tick_interval, on_tick=on_tick, on_error=metrics.REDIS_ERRORS.inc
    )
    pages = Pages(
        "Kartu Prakerja" if settings.event == "prakerja" else settings.event, settings.prefix
    )
    await controller.start()
    try:
        yield Runtime(settings, client, store, room, controller, pages, sampler=sampler)
    finally:
        await controller.stop()
        with contextlib.suppress(Exception):
            await client.aclose()
        if embedded is not None:
            embedded.stop()


def waiting_room_lifespan(
    settings: Settings | None = None,
) -> Callable[[Any], AbstractAsyncContextManager[dict[str, Any]]]:
    """A Starlette ``lifespan=`` that opens the waiting room for ``WaitingRoomMiddleware``."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
        async with open_runtime(settings or Settings.from_env()) as runtime:
            yield {STATE_KEY: runtime}

    return lifespan
