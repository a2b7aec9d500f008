"""Invariants 1, 3 and 4 of DESIGN.md, on a real Redis with a controlled clock (no sleeps)."""

from __future__ import annotations

import asyncio
import heapq
from collections import Counter
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.core.conftest import make_room
from waitingroom.clock import ManualClock
from waitingroom.config import RoomConfig
from waitingroom.embedded import EmbeddedRedis
from waitingroom.keys import Keys
from waitingroom.room import Room
from waitingroom.store import RedisStore
from waitingroom.tokens import Ticket

TICK = 0.25


async def start(room: Room) -> Room:
    await room.ensure_config()
    await room.tick()
    return room


async def join_many(room: Room, n: int) -> list[Ticket]:
    """n concurrent arrivals, sorted by the position each was given."""
    joined = await asyncio.gather(*(room.join() for _ in range(n)))
    return sorted((j.ticket for j in joined if j is not None), key=lambda t: t.position)


async def test_invariant_1_positions_unique_and_ordered_under_concurrency(
    store: RedisStore, clock: ManualClock
) -> None:
    rooms = [await start(make_room(store, clock, seed=i)) for i in range(4)]
    batches = await asyncio.gather(*(join_many(room, 250) for room in rooms))
    positions = [t.position for batch in batches for t in batch]
    assert sorted(positions) == list(range(1, 1001))
    # One after another, later arrivals get later positions.
    sequential = [(await rooms[i % 4].join()).ticket.position for i in range(20)]  # type: ignore[union-attr]
    assert sequential == list(range(1001, 1021))


@pytest.fixture
async def private() -> AsyncIterator[tuple[RedisStore, aioredis.Redis]]:
    """A Redis of this test's own: nobody else's commands in its statistics."""
    with EmbeddedRedis() as server:
        client = aioredis.Redis.from_url(server.url)
        try:
            yield RedisStore(client, Keys("wrtest", "prakerja"), ManualClock()), client
        finally:
            await client.aclose()


async def test_join_costs_one_round_trip_and_a_poll_none(
    private: tuple[RedisStore, aioredis.Redis],
) -> None:
    store, redis_client = private
    clock = store.clock
    assert isinstance(clock, ManualClock)
    room = await start(make_room(store, clock))
    await redis_client.config_resetstat()
    ticket = (await room.join()).ticket  # type: ignore[union-attr]
    stats = await redis_client.info("commandstats")
    # One round trip: a single EVALSHA (commands run inside the script are counted too, but
    # only scripts reach Redis from the room).
    assert stats["cmdstat_evalsha"]["calls"] == 1, stats
    assert "cmdstat_eval" not in stats
    await redis_client.config_resetstat()
    for _ in range(100):
        status = await room.status(ticket)
        assert status.status == "waiting"
    stats = await redis_client.info("commandstats")
    assert set(stats) <= {"cmdstat_config"}, stats


async def simulate(
    room: Room,
    clock: ManualClock,
    minutes: float,
    waiting: list[Ticket] = (),  # type: ignore[assignment]
    arrivals_per_tick: int = 0,
    no_show: set[int] | None = None,
) -> tuple[Counter[int], list[int], list[int]]:
    """Run the controller tick by tick; every released ticket (but the no-shows) comes back at
    once. Returns admissions per minute, the admission order, and `active` seen at each tick."""
    pending = [(t.position, t) for t in waiting]
    heapq.heapify(pending)
    admitted_order: list[int] = []
    per_minute: Counter[int] = Counter()
    active_seen: list[int] = []
    start_time = clock.now()
    for _ in range(int(minutes * 60 / TICK)):
        for ticket in await join_many(room, arrivals_per_tick):
            heapq.heappush(pending, (ticket.position, ticket))
        clock.advance(TICK)
        await room.tick()
        snap = room.snapshot
        assert snap is not None
        retry = []
        while pending and pending[0][0] <= snap.serving:
            position, ticket = heapq.heappop(pending)
            if no_show is not None and position in no_show:
                continue
            status = await room.status(ticket)
            if status.status == "admitted":
                admitted_order.append(position)
                per_minute[int((clock.now() - start_time) // 60)] += 1
            else:
                assert status.status == "waiting", status
                retry.append((position, ticket))  # the cap was reached: they keep polling
        for item in retry:
            heapq.heappush(pending, item)
        active_seen.append(snap.active)
    return per_minute, admitted_order, active_seen


async def test_invariant_3_rate_over_ten_minutes(store: RedisStore, clock: ManualClock) -> None:
    rate = 600
    room = await start(
        make_room(store, clock, RoomConfig(rate_per_minute=rate, max_active=100_000))
    )
    waiting = await join_many(room, rate * 11)
    per_minute, order, _ = await simulate(room, clock, 10, waiting)
    one_tick = rate / 60 * TICK
    for minute in range(10):
        assert abs(per_minute[minute] - rate) <= one_tick + 1, (minute, per_minute)
    # Invariant 4: admitted in arrival order.
    assert order == sorted(order)


async def test_invariant_3_active_never_exceeds_max_active(
    store: RedisStore, clock: ManualClock
) -> None:
    config = RoomConfig(rate_per_minute=1200, max_active=50, session_lifetime=30)
    room = await start(make_room(store, clock, config))
    waiting = await join_many(room, 2000)
    per_minute, order, active_seen = await simulate(room, clock, 3, waiting)
    assert max(active_seen) <= 50
    assert max(active_seen) >= 45  # the cap, not the rate, was the limit
    # 50 sessions of 30 s: about 100 admissions a minute, far below the rate.
    assert 90 <= per_minute[1] <= 110, per_minute
    assert order == sorted(order)


async def test_many_workers_release_exactly_what_one_would(
    redis_client: aioredis.Redis, clock: ManualClock
) -> None:
    config = RoomConfig(rate_per_minute=720, max_active=100_000)
    results = []
    for event, n_workers in (("one", 1), ("many", 8)):
        store = RedisStore(redis_client, Keys("wrtest", event), clock)
        workers = [await start(make_room(store, clock, config, seed=i)) for i in range(n_workers)]
        await join_many(workers[0], 5000)
        t0 = clock.now()
        for _ in range(120):
            clock.advance(TICK)
            await asyncio.gather(*(w.tick() for w in workers))
        clock.set(t0)
        results.append(workers[0].snapshot.serving)  # type: ignore[union-attr]
    assert results[0] == results[1] == 720 / 60 * 120 * TICK


async def test_no_shows_are_compensated(store: RedisStore, clock: ManualClock) -> None:
    rate = 600
    config = RoomConfig(
        rate_per_minute=rate, max_active=100_000, grace_period=60, session_lifetime=60
    )
    room = await start(make_room(store, clock, config))
    waiting = await join_many(room, rate * 20)
    no_show = {p for p in range(1, rate * 20) if p % 10 < 3}  # 30 % never come back
    per_minute, order, _ = await simulate(room, clock, 10, waiting, no_show=no_show)
    # The measurement window (a minute, lagged by the 60 s grace) is full after two minutes.
    for minute in range(3, 10):
        assert abs(per_minute[minute] - rate) <= 0.05 * rate, (minute, per_minute)
    assert order == sorted(order)
    assert room.snapshot is not None
    assert 0.65 <= room.snapshot.show_ratio <= 0.75


async def test_invariant_4_fifo_with_ongoing_arrivals(
    store: RedisStore, clock: ManualClock
) -> None:
    room = await start(make_room(store, clock, RoomConfig(rate_per_minute=240, max_active=1000)))
    _, order, _ = await simulate(room, clock, 2, arrivals_per_tick=2)
    assert len(order) > 400
    assert order == sorted(order)
    assert len(set(order)) == len(order)


async def test_admission_and_renewal_cost_one_round_trip_each(
    private: tuple[RedisStore, aioredis.Redis],
) -> None:
    store, redis_client = private
    clock = store.clock
    assert isinstance(clock, ManualClock)
    room = await start(make_room(store, clock, RoomConfig(rate_per_minute=600, max_active=10)))
    (ticket,) = await join_many(room, 1)
    clock.advance(1)
    await room.tick()
    await redis_client.config_resetstat()
    status = await room.status(ticket)
    assert status.status == "admitted"
    assert status.pass_ is not None
    stats = await redis_client.info("commandstats")
    assert stats["cmdstat_evalsha"]["calls"] == 1
    await redis_client.config_resetstat()
    valid, _ = await room.renew(status.pass_)
    assert valid
    stats = await redis_client.info("commandstats")
    assert stats["cmdstat_evalsha"]["calls"] == 1
