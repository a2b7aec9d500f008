from __future__ import annotations

from tests.core.conftest import make_room
from waitingroom.clock import ManualClock
from waitingroom.config import RoomConfig
from waitingroom.store import RedisStore


async def test_join_wait_admit(store: RedisStore, clock: ManualClock) -> None:
    room = make_room(store, clock, RoomConfig(rate_per_minute=60, max_active=10))
    await room.ensure_config()
    await room.tick()
    joined = [await room.join() for _ in range(5)]
    assert [j.ticket.position for j in joined if j] == [1, 2, 3, 4, 5]
    await room.tick()
    status = await room.status(joined[0].ticket)  # type: ignore[union-attr]
    assert status.status == "waiting"
    clock.advance(1.0)
    released = await room.tick()
    assert released == 1
    status = await room.status(joined[0].ticket)  # type: ignore[union-attr]
    assert status.status == "admitted", status
    assert status.pass_token
    second = await room.status(joined[1].ticket)  # type: ignore[union-attr]
    assert second.status == "waiting"
    assert second.ahead == 0
