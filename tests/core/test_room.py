"""The room's promises beyond the counters: late returners, pause, pre-queue, config and audit,
self-healing after Redis lost its data, and errors wrapped in the project's own types."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from tests.core.conftest import SECRET, make_room
from tests.core.test_queue import join_many, start
from waitingroom.clock import ManualClock
from waitingroom.config import RoomConfig
from waitingroom.errors import ConfigError, StoreUnavailable, VersionConflict
from waitingroom.keys import Keys
from waitingroom.room import Room
from waitingroom.shuffle import Permutation, prequeue_key
from waitingroom.store import RedisStore


async def run(room: Room, clock: ManualClock, seconds: float, step: float = 0.25) -> None:
    for _ in range(int(seconds / step)):
        clock.advance(step)
        await room.tick()


async def test_late_returner_within_grace_is_admitted_after_it_expired(
    store: RedisStore, clock: ManualClock
) -> None:
    config = RoomConfig(rate_per_minute=60, max_active=100, grace_period=30)
    room = await start(make_room(store, clock, config))
    first, second = await join_many(room, 2)
    await run(room, clock, 2.5)  # both released
    await run(room, clock, 25)
    assert (await room.status(first)).status == "admitted"  # 27 s late: within grace
    await run(room, clock, 10)
    assert (await room.status(second)).status == "expired"  # 37 s late: rejoin
    # Expired is final: it does not come back on a later poll.
    assert (await room.status(second)).status == "expired"


async def test_a_ticket_redeems_one_session_only(store: RedisStore, clock: ManualClock) -> None:
    room = await start(make_room(store, clock, RoomConfig(rate_per_minute=60, max_active=100)))
    (ticket,) = await join_many(room, 1)
    await run(room, clock, 1.5)
    status = await room.status(ticket)
    assert status.status == "admitted" and status.pass_ is not None
    again = await room.status(ticket)  # two tabs: the same live session, not a second one
    assert again.status == "admitted"
    assert again.pass_ is not None and again.pass_.session == status.pass_.session
    assert (await store.snapshot()).active == 1
    assert await room.release(status.pass_)
    assert (await room.status(ticket)).status == "expired"  # used: no second session
    valid, _ = await room.renew(status.pass_)
    assert not valid  # a released pass replayed is useless


async def test_pause_stops_releases_and_nobody_loses_their_place(
    store: RedisStore, clock: ManualClock
) -> None:
    room = await start(make_room(store, clock, RoomConfig(rate_per_minute=120, max_active=100)))
    tickets = await join_many(room, 10)
    await run(room, clock, 1)
    served = room.snapshot.serving  # type: ignore[union-attr]
    await store.set_config({"mode": "pause"}, actor="test")
    await run(room, clock, 10)
    assert room.snapshot.serving == served  # type: ignore[union-attr]
    status = await room.status(tickets[-1])
    assert status.status == "paused"
    assert status.position == 10
    await store.set_config({"mode": "queue"}, actor="test")
    await run(room, clock, 1)
    # Time spent paused is not banked into a burst: 2 a second after resuming.
    assert room.snapshot.serving <= served + 3  # type: ignore[union-attr]
    await run(room, clock, 4)
    assert (await room.status(tickets[-1])).status == "admitted"


async def test_closed_room_refuses_joins(store: RedisStore, clock: ManualClock) -> None:
    room = await start(make_room(store, clock, RoomConfig(mode="closed")))
    assert await room.join() is None


async def test_eta_never_rises_and_poll_advice_scales(
    store: RedisStore, clock: ManualClock
) -> None:
    room = await start(make_room(store, clock, RoomConfig(rate_per_minute=600, max_active=10**6)))
    tickets = await join_many(room, 3000)
    last = None
    for _ in range(30):
        await run(room, clock, 1)
        status = await room.status(tickets[-1], last)
        assert status.eta is not None
        if last is not None:
            assert status.eta[0] <= last[0] and status.eta[1] <= last[1]
        last = status.eta
    # 3000 ahead at 10/s: about 300 s; the range holds the truth.
    far = await room.status(tickets[-1])
    assert far.eta is not None and far.eta[0] <= 270 <= far.eta[1]
    assert 15 <= far.poll_after <= 60  # far from the front: seldom
    # The operator halves the rate: the estimate for a poll carrying the last range stays put.
    await store.set_config({"rate_per_minute": 60}, actor="test")
    await run(room, clock, 1)
    slower = await room.status(tickets[-1], last)
    assert slower.eta is not None and slower.eta[1] <= last[1]  # type: ignore[index]
    near = await room.status(tickets[320])
    assert near.status == "waiting" and near.poll_after <= 2.0 * 1.15 + 0.01


async def test_prequeue_is_shuffled_fairly_at_opening(
    store: RedisStore, clock: ManualClock
) -> None:
    opens_at = clock.now() + 60
    room = await start(make_room(store, clock, RoomConfig(rate_per_minute=6000, opens_at=opens_at)))
    early = await join_many(room, 200)
    status = await room.status(early[0])
    assert status.status == "closed" and status.opens_at == opens_at
    await run(room, clock, 10)
    assert room.snapshot.serving == 0  # type: ignore[union-attr]
    await run(room, clock, 51)
    late = await join_many(room, 5)
    snap = room.snapshot
    assert snap is not None and (snap.prequeue_lo, snap.prequeue_hi) == (0, 200)
    positions = [room.position_of(t, snap) for t in early]
    assert sorted(positions) == list(range(1, 201))  # a permutation: none lost, none doubled
    assert positions != list(range(1, 201))  # and really shuffled
    assert [room.position_of(t, snap) for t in late] == list(range(201, 206))  # behind


def test_shuffle_is_a_permutation_and_differs_between_events() -> None:
    for size in (1, 2, 3, 10, 257, 5000):
        perm = Permutation(prequeue_key(SECRET, "prakerja", 1), size)
        assert sorted(perm(i) for i in range(size)) == list(range(size))
    a = Permutation(prequeue_key(SECRET, "prakerja", 1), 1000)
    b = Permutation(prequeue_key(SECRET, "other-event", 1), 1000)
    assert [a(i) for i in range(1000)] != [b(i) for i in range(1000)]


async def test_config_is_versioned_and_audited(store: RedisStore, clock: ManualClock) -> None:
    room = await start(make_room(store, clock))
    version = room.snapshot.config.version  # type: ignore[union-attr]
    new = await store.set_config({"rate_per_minute": 1200}, actor="ops", expected_version=version)
    assert new == version + 1
    with pytest.raises(VersionConflict):
        await store.set_config({"rate_per_minute": 10}, actor="ops2", expected_version=version)
    with pytest.raises(ConfigError) as err:
        await store.set_config({"max_active": 0}, actor="ops")
    assert err.value.field == "max_active"
    with pytest.raises(ConfigError) as err:
        await store.set_config({"mode": "party"}, actor="ops")
    assert err.value.field == "mode"
    audit = await store.audit()
    assert audit[0]["actor"] == "ops"
    assert audit[0]["old"] == {"rate_per_minute": "600"}
    assert audit[0]["new"] == {"rate_per_minute": "1200"}
    await room.tick()
    assert room.snapshot.config.rate_per_minute == 1200  # type: ignore[union-attr]


async def test_redis_wiped_mid_run_reissues_no_position(
    store: RedisStore, clock: ManualClock, redis_client: aioredis.Redis
) -> None:
    room = await start(make_room(store, clock, RoomConfig(rate_per_minute=60, max_active=100)))
    before = await join_many(room, 20)
    await run(room, clock, 5)
    waiting = before[-1]
    status_before = await room.status(waiting)
    await redis_client.flushdb()  # a restart without persistence
    await room.tick()  # the controller restores the counters it has seen
    after = await join_many(room, 5)
    assert min(t.position for t in after) > max(t.position for t in before)
    assert all(t.epoch == waiting.epoch for t in after)
    status_after = await room.status(waiting)
    assert status_after.status == "waiting"
    assert status_after.position == status_before.position  # nobody lost their place
    assert status_after.ahead <= status_before.ahead
    await run(room, clock, 30)
    assert (await room.status(waiting)).status == "admitted"


async def test_ticket_seen_restores_the_tail_for_a_fresh_worker(
    store: RedisStore, clock: ManualClock, redis_client: aioredis.Redis
) -> None:
    old_worker = await start(make_room(store, clock))
    tickets = await join_many(old_worker, 50)
    await redis_client.flushdb()
    fresh = make_room(store, clock)  # knows nothing but the epoch from its first tick
    fresh.floors = old_worker.floors.__class__(tickets[0].epoch, 0, 0)
    fresh.read_ticket(SIGNER_TOKEN(fresh, tickets[-1]))
    joined = await fresh.join()
    assert joined is not None and joined.ticket.position == 51


def SIGNER_TOKEN(room: Room, ticket: object) -> str:
    from waitingroom.tokens import Ticket

    assert isinstance(ticket, Ticket)
    payload = f"{ticket.event}.{ticket.epoch}.{ticket.position}.{ticket.issued_at}"
    return room.signer._tickets.sign(payload).decode()


async def test_storage_errors_are_wrapped(clock: ManualClock) -> None:
    from waitingroom.embedded import free_port

    client = aioredis.Redis(
        port=free_port(), socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    store = RedisStore(client, Keys("wrtest", "prakerja"), clock)
    try:
        with pytest.raises(StoreUnavailable):
            await store.join()
        room = make_room(store, clock)
        with pytest.raises(StoreUnavailable):
            await room.tick()
    finally:
        await client.aclose()


async def test_a_reset_voids_every_ticket_and_pass_of_the_old_epoch(
    store: RedisStore, clock: ManualClock
) -> None:
    room = await start(make_room(store, clock, RoomConfig(rate_per_minute=60, max_active=100)))
    first, second = await join_many(room, 2)
    await run(room, clock, 1.5)
    admitted = await room.status(first)
    assert admitted.pass_ is not None
    clock.advance(1)
    await store.reset(actor="ops")
    await room.tick()
    assert (await room.status(second)).status == "expired"  # another epoch: rejoin
    valid, _ = await room.renew(admitted.pass_)
    assert not valid
    fresh = await room.join()
    assert fresh is not None
    assert fresh.ticket.position == 1
    assert fresh.ticket.epoch != first.epoch
    assert (await store.audit())[0]["actor"] == "ops"


async def test_a_worker_that_saw_less_restores_the_tail_past_what_others_issued(
    store: RedisStore, clock: ManualClock, redis_client: aioredis.Redis
) -> None:
    busy = await start(make_room(store, clock, seed=1))
    quiet = await start(make_room(store, clock, seed=2))
    for _ in range(20):  # 30 joins a second, seen by both workers' ticks
        await join_many(busy, 15)
        clock.advance(0.5)
        await busy.tick()
        await quiet.tick()
    # The busy worker issues more before its next tick; the quiet one never sees them.
    issued = await join_many(busy, 40)
    await redis_client.flushdb()  # Redis restarts empty
    await quiet.tick()  # the quiet worker restores first, from the lower floor it has
    joined = await quiet.join()
    assert joined is not None
    assert joined.ticket.position > max(t.position for t in issued)
    assert quiet.floors.margin >= 100 + 2 * 30  # two seconds of joins at the pace it measured
    await busy.tick()
    after = await join_many(busy, 3)
    assert min(t.position for t in after) > joined.ticket.position


async def test_released_positions_count_in_flight_from_the_first_second(
    store: RedisStore, clock: ManualClock
) -> None:
    # Nobody redeems: every release holds a slot it may claim, so releases stop at the cap.
    room = await start(make_room(store, clock, RoomConfig(rate_per_minute=6000, max_active=10)))
    await join_many(room, 200)
    await run(room, clock, 5)
    assert room.snapshot is not None and room.snapshot.serving == 10


async def test_a_turn_does_not_expire_while_the_room_is_full(
    store: RedisStore, clock: ManualClock
) -> None:
    config = RoomConfig(rate_per_minute=600, max_active=2, grace_period=10)
    room = await start(make_room(store, clock, config))
    first, second = await join_many(room, 2)
    await run(room, clock, 1)
    assert room.snapshot is not None and room.snapshot.serving == 2
    await store.set_config({"max_active": 1}, actor="ops")  # the operator lowers the cap
    await run(room, clock, 0.5)
    admitted = await room.status(first)
    assert admitted.status == "admitted" and admitted.pass_ is not None
    await run(room, clock, 30)  # three grace periods, all spent waiting for a slot
    held = await room.status(second)
    assert held.status == "waiting" and held.ahead == 0
    assert await room.release(admitted.pass_)
    await run(room, clock, 0.5)
    assert (await room.status(second)).status == "admitted"


async def test_prequeue_shuffle_survives_a_key_rotation(
    store: RedisStore, clock: ManualClock
) -> None:
    config = RoomConfig(rate_per_minute=6000, opens_at=clock.now() + 10)
    room = await start(make_room(store, clock, config))
    early = await join_many(room, 100)
    await run(room, clock, 11)
    snap = room.snapshot
    assert snap is not None and snap.prequeue_seed
    before = [room.position_of(t, snap) for t in early]
    rotated = Room(room.store, room.signer, "a-new-signing-key", config, clock)
    await rotated.tick()
    assert rotated.snapshot is not None
    assert [rotated.position_of(t, rotated.snapshot) for t in early] == before
    assert sorted(before) == list(range(1, 101)) and before != list(range(1, 101))


async def test_opening_and_grace_follow_redis_time_not_a_skewed_host(
    store: RedisStore, clock: ManualClock
) -> None:
    opens_at = clock.now() + 60
    host = ManualClock(clock.now() + 120)  # this worker's host clock runs two minutes ahead
    room = Room(
        store,
        make_room(store, clock).signer,
        SECRET,
        RoomConfig(rate_per_minute=600, opens_at=opens_at),
        host,
    )
    await room.tick()
    (ticket,) = await join_many(room, 1)
    assert (await room.status(ticket)).status == "closed"  # Redis says: not open yet
    for _ in range(4):
        clock.advance(15)
        host.advance(15)
        await room.tick()
    assert (await room.status(ticket)).status in ("waiting", "admitted")


async def test_an_idle_room_gives_a_newcomer_an_estimate(
    store: RedisStore, clock: ManualClock
) -> None:
    room = await start(make_room(store, clock, RoomConfig(rate_per_minute=60, max_active=100)))
    await run(room, clock, 90)  # a quiet minute and a half: nothing released, nothing measured
    tickets = await join_many(room, 10)
    status = await room.status(tickets[-1])
    assert status.status == "waiting" and status.eta is not None
    assert status.eta[0] <= 10 <= status.eta[1]
    assert status.poll_after < 20


async def test_a_snapshot_nobody_refreshes_stops_admitting(
    store: RedisStore, clock: ManualClock
) -> None:
    room = await start(make_room(store, clock, RoomConfig(rate_per_minute=60, max_active=100)))
    tickets = await join_many(room, 5)
    await run(room, clock, 1.5)
    clock.advance(10)  # the controller task died: no tick for ten seconds, Redis still fine
    status = await room.status(tickets[-1])
    assert status.status == "paused" and status.position == 5


async def test_a_turn_expired_before_the_room_filled_stays_expired(
    store: RedisStore, clock: ManualClock
) -> None:
    config = RoomConfig(rate_per_minute=60, max_active=2, grace_period=10)
    room = await start(make_room(store, clock, config))
    first, no_show = await join_many(room, 2)
    await run(room, clock, 2.5)
    assert (await room.status(first)).status == "admitted"
    await run(room, clock, 600, step=5)  # ten minutes: the no-show's grace period is long gone
    assert (await room.status(no_show)).status == "expired"
    c, d = await join_many(room, 2)
    await run(room, clock, 2.5)
    admitted = await room.status(c)
    assert admitted.status == "admitted" and admitted.pass_ is not None
    assert (await room.status(d)).status == "admitted"
    await run(room, clock, 1)  # the room is full now (first's session expired: 600 s lifetime)
    assert room.snapshot is not None and room.snapshot.active == 2
    calls = 0
    real_admit = store.admit

    async def counted(*args: object) -> object:
        nonlocal calls
        calls += 1
        return await real_admit(*args)  # type: ignore[arg-type]

    store.admit = counted  # type: ignore[assignment]
    for _ in range(3):
        assert (await room.status(no_show)).status == "expired"
    assert calls == 0  # judged locally: no Redis round trip for an expired ticket
    store.admit = real_admit  # type: ignore[method-assign]
    assert await room.release(admitted.pass_)
    await run(room, clock, 0.5)
    assert (await room.status(no_show)).status == "expired"  # a free slot revives nothing


async def test_a_ticket_of_a_newer_epoch_than_the_snapshot_is_not_expired(
    store: RedisStore, clock: ManualClock
) -> None:
    slow = await start(make_room(store, clock, RoomConfig(rate_per_minute=60), seed=1))
    fast = await start(make_room(store, clock, RoomConfig(rate_per_minute=60), seed=2))
    clock.advance(1)
    await store.reset(actor="ops")
    await fast.tick()
    joined = await fast.join()
    assert joined is not None
    status = await slow.status(joined.ticket)  # slow has not ticked since the reset
    assert status.status == "paused" and status.position == joined.ticket.position
