"""Putting the room into the state a measurement needs, through the waiting room's own store.

The benchmark changes the room config with ``RedisStore.set_config`` (as the admin API does) and
makes tickets for the admission measurement by running the real ``join`` script in pipelined
batches (the same positions a join through the gateway would issue), then signing them with the
gateway's key: each one is a ticket an applicant could hold.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from waitingroom.keys import Keys
from waitingroom.store import RedisStore, script_source
from waitingroom.tokens import TokenSigner

# Admissions never wait on the cap or the grace period in the admitting phase.
ADMITTING = {"rate_per_minute": 10_000_000, "max_active": 10_000_000, "grace_period": 86_400}
# Nobody is released: a ticket joined now stays waiting.
WAITING = {"rate_per_minute": 0}


async def set_config(store: RedisStore, **changes: Any) -> None:
    await store.set_config(changes, actor="bench")


async def state(client: aioredis.Redis, keys: Keys) -> dict[str, int]:
    raw = await client.hgetall(keys.state)
    return {k.decode(): int(float(v)) for k, v in raw.items() if k.decode() != "show_ratio"}


async def join_block(
    client: aioredis.Redis, keys: Keys, count: int, batch: int = 2000
) -> tuple[int, list[int]]:
    """Take ``count`` positions with the join script; returns (epoch, positions)."""
    source = script_source("join")
    sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()
    await client.script_load(source)
    epoch = 0
    positions: list[int] = []
    for start in range(0, count, batch):
        pipe = client.pipeline(transaction=False)
        for _ in range(min(batch, count - start)):
            pipe.evalsha(sha, 3, keys.state, keys.config, keys.history, "", 0, 0, 0)
        for status, raw_epoch, position, *_ in await pipe.execute():
            if status != b"ok":
                raise RuntimeError(f"join refused: {status!r}")
            epoch = int(raw_epoch)
            positions.append(int(position))
    return epoch, positions


def sign_tickets(signer: TokenSigner, epoch: int, positions: list[int]) -> list[str]:
    return [signer.sign_ticket(epoch, p)[1] for p in positions]


def write_tokens(path: Path, tokens: list[str]) -> Path:
    path.write_text("\n".join(tokens) + "\n")
    return path


async def wait_released(
    client: aioredis.Redis, keys: Keys, position: int, tick: float, limit: float = 20.0
) -> None:
    """Until ``serving`` has passed ``position`` and every worker has ticked since."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while (await state(client, keys)).get("serving", 0) < position:
        if loop.time() > deadline:
            raise RuntimeError(f"position {position} not released after {limit} s")
        await asyncio.sleep(0.05)
    # Ticks come every interval x [0.8, 1.2]: two intervals and a bit cover the next one.
    await asyncio.sleep(2.5 * tick)
