"""The derived figures, counted on a real Redis, not guessed.

Redis round trips per operation: ``INFO commandstats`` before and after a window of N identical
requests. Commands a Lua script runs inside Redis are counted in commandstats too, so the window
is also watched with MONITOR, which tells the commands a client sent (one round trip each, the
gateway does not pipeline) from those a script ran (client "lua"), and names each EVALSHA's
script by its SHA. Nothing else may touch Redis during a window: the gateway measured here runs
its controller only at startup (a long tick interval).

Redis memory per waiting user: ``used_memory`` before and after N joins, divided by the joins
counted by the tail counter (plus the key count and the dataset part of the memory).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from bench import room, servers
from waitingroom.keys import Keys
from waitingroom.store import SCRIPTS, RedisStore, script_source
from waitingroom.tokens import TokenSigner

# Sent by the benchmark itself while counting: never part of an operation.
OURS = frozenset({"info", "echo", "monitor", "ping", "client"})
SCRIPT_NAMES = {
    hashlib.sha1(script_source(n).encode(), usedforsecurity=False).hexdigest(): n for n in SCRIPTS
}


@dataclass
class OpCounts:
    """Redis commands per operation over a window of ``ops`` operations."""

    ops: int
    round_trips: float  # commands sent by clients (MONITOR), per operation
    evalsha: float  # commandstats
    eval: float  # commandstats
    other_top_level: float  # client commands that are not scripts (MONITOR)
    scripts: dict[str, float] = field(default_factory=dict)  # EVALSHA by script name
    inner: dict[str, float] = field(default_factory=dict)  # commands run inside scripts

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def commandstats(client: aioredis.Redis) -> dict[str, int]:
    info = await client.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in info.items()}


class Watch:
    """MONITOR over a window, bracketed by ECHO markers so no command is missed or misplaced."""

    def __init__(self, redis_url: str) -> None:
        self.client = aioredis.Redis.from_url(redis_url)
        self.marker = f"bench-{uuid.uuid4().hex}"
        self.top: Counter[str] = Counter()
        self.lua: Counter[str] = Counter()
        self.scripts: Counter[str] = Counter()

    async def run(self, window: Callable[[], Awaitable[None]]) -> None:
        async with self.client.monitor() as monitor:
            await self.client.echo(self.marker + "-start")
            await self._read(monitor, self.marker + "-start", record=False)
            await window()
            await self.client.echo(self.marker + "-end")
            await self._read(monitor, self.marker + "-end", record=True)
        await self.client.aclose()

    async def _read(self, monitor: Any, until: str, record: bool) -> None:
        while True:
            entry = await asyncio.wait_for(monitor.next_command(), 30)
            words = entry["command"].split(" ")
            name = words[0].lower()
            if name == "echo" and len(words) > 1 and words[1] == until:
                return
            if not record:
                continue
            if entry["client_type"] == "lua":
                self.lua[name] += 1
            elif name not in OURS:
                self.top[name] += 1
                if name == "evalsha" and len(words) > 1:
                    self.scripts[SCRIPT_NAMES.get(words[1], words[1])] += 1


async def count_commands(
    client: aioredis.Redis, redis_url: str, ops: int, window: Callable[[], Awaitable[None]]
) -> OpCounts:
    """Run ``window`` (``ops`` operations) and count the Redis commands it caused."""
    watch = Watch(redis_url)
    before: dict[str, int] = {}
    after: dict[str, int] = {}

    async def bracketed() -> None:
        before.update(await commandstats(client))
        await window()
        after.update(await commandstats(client))

    await watch.run(bracketed)
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    delta = {k: v for k, v in delta.items() if v and k not in OURS}
    top_level = sum(watch.top.values())
    if watch.top["evalsha"] != delta.get("evalsha", 0):
        raise RuntimeError(f"MONITOR and commandstats disagree: {dict(watch.top)} vs {delta}")
    return OpCounts(
        ops=ops,
        round_trips=top_level / ops,
        evalsha=delta.get("evalsha", 0) / ops,
        eval=delta.get("eval", 0) / ops,
        other_top_level=(top_level - watch.top["evalsha"] - watch.top["eval"]) / ops,
        scripts={k: v / ops for k, v in sorted(watch.scripts.items())},
        inner={k: v / ops for k, v in sorted(watch.lua.items())},
    )


# The parts of INFO memory that say where a change in used_memory went.
BREAKDOWN = (
    "used_memory_dataset",
    "used_memory_overhead",
    "mem_clients_normal",
    "mem_aof_buffer",
    "used_memory_scripts",
)


@dataclass
class Memory:
    used_memory: int
    breakdown: dict[str, int]
    keyspace: int  # MEMORY USAGE summed over every key: the data itself, no buffers
    keys: int
    clients: int

    @classmethod
    async def read(cls, client: aioredis.Redis) -> Memory:
        info = await client.info("memory")
        keyspace = keys = 0
        async for key in client.scan_iter(count=1000):
            keyspace += int(await client.memory_usage(key, samples=0) or 0)
            keys += 1
        parts = {name: int(info.get(name, 0)) for name in BREAKDOWN}
        clients = int((await client.info("clients"))["connected_clients"])
        return cls(int(info["used_memory"]), parts, keyspace, keys, clients)

    @property
    def unbuffered(self) -> int:
        """used_memory less client and append-only-file buffers."""
        parts = self.breakdown
        return self.used_memory - parts["mem_clients_normal"] - parts["mem_aof_buffer"]


@dataclass
class MemoryPerUser:
    """What ``joins`` joins cost Redis. ``bytes_per_user`` leaves out buffers, which are no
    user's: those of client connections (a connection the gateway's pool opens during the joins
    brings about 17 kB; bounded by the pool size) and the append-only file's write buffer (up to
    4 kB kept between writes). ``used_memory_per_user`` keeps them. Either is taken from the
    lowest of a few readings before and after (see ``_lowest``)."""

    joins: int
    used_memory_delta: int
    breakdown_delta: dict[str, int]
    keyspace_delta: int
    keys_delta: int
    clients_delta: int

    def _per(self, value: int) -> float:
        return value / self.joins if self.joins else 0.0

    @property
    def bytes_per_user(self) -> float:
        buffers = (
            self.breakdown_delta["mem_clients_normal"] + self.breakdown_delta["mem_aof_buffer"]
        )
        return self._per(self.used_memory_delta - buffers)

    @property
    def used_memory_per_user(self) -> float:
        return self._per(self.used_memory_delta)

    @property
    def keyspace_bytes_per_user(self) -> float:
        return self._per(self.keyspace_delta)

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "bytes_per_user": self.bytes_per_user,
            "used_memory_per_user": self.used_memory_per_user,
            "keyspace_bytes_per_user": self.keyspace_bytes_per_user,
        }


async def tail(client: aioredis.Redis, keys: Keys) -> int:
    return int(await client.hget(keys.state, "tail") or 0)


async def _lowest(client: aioredis.Redis, settle: float, readings: int = 5) -> Memory:
    """The reading with the least memory besides buffers, of a few over ``settle`` seconds.

    Besides the buffers it names, Redis 6.2 now and then holds a transient block of 32 kB (or
    two) after running scripts, freed again a moment later: that is no user's either, and the
    lowest of a few readings leaves it out.
    """
    best: Memory | None = None
    for i in range(readings):
        if i:
            await asyncio.sleep(settle / readings)
        reading = await Memory.read(client)
        if best is None or reading.unbuffered < best.unbuffered:
            best = reading
    assert best is not None
    return best


async def memory_per_user(
    client: aioredis.Redis,
    keys: Keys,
    joins: Callable[[], Awaitable[None]],
    settle: float = 2.2,
) -> MemoryPerUser:
    """Memory before and after ``joins``; the joins are counted by the tail counter.

    ``settle``: Redis frees the query buffer of a client idle for 2 s, so waiting that long
    before each reading keeps the gateway's connection buffers out of the difference.
    """
    await asyncio.sleep(settle)
    tail_before, before = await tail(client, keys), await _lowest(client, settle)
    await joins()
    await asyncio.sleep(settle)
    tail_after, after = await tail(client, keys), await _lowest(client, settle)
    return MemoryPerUser(
        joins=tail_after - tail_before,
        used_memory_delta=after.used_memory - before.used_memory,
        breakdown_delta={k: after.breakdown[k] - before.breakdown[k] for k in BREAKDOWN},
        keyspace_delta=after.keyspace - before.keyspace,
        keys_delta=after.keys - before.keys,
        clients_delta=after.clients - before.clients,
    )


# -- the requests of each operation, over HTTP -----------------------------------------------

JSON = {"accept": "application/json"}
BROWSER = {"accept": "text/html,application/xhtml+xml", "accept-language": "id-ID,id;q=0.9"}


async def fire(
    session: aiohttp.ClientSession,
    count: int,
    request: Callable[[int], tuple[str, str, dict[str, str]]],
    expect: str,
    concurrency: int = 16,
) -> list[str]:
    """Send ``count`` requests (``request(i)`` -> method, url, headers) ``concurrency`` at a time;
    every answer must be a 200 containing ``expect``. Returns the bodies."""
    bodies: list[str] = [""] * count
    queue = iter(range(count))

    async def worker() -> None:
        for i in queue:
            method, url, headers = request(i)
            async with session.request(method, url, headers=headers) as response:
                body = await response.text()
                if response.status != 200 or expect not in body:
                    raise RuntimeError(f"{method} {url}: {response.status} {body[:300]}")
                bodies[i] = body
                if "set-cookie" in response.headers:
                    cookies = response.headers.getall("set-cookie")
                    bodies[i] += "\n" + "\n".join(cookies)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, count))))
    return bodies


def cookie_value(text: str, name: str) -> str:
    for line in text.splitlines():
        if line.startswith(name + "="):
            return line.split(";", 1)[0].split("=", 1)[1]
    raise RuntimeError(f"no {name} cookie in the answer")


BACKEND_MARKER = 'href="/register'
WAITING_PAGE_MARKER = 'id="position"'


@dataclass
class Counted:
    round_trips: dict[str, OpCounts]
    memory: MemoryPerUser | None


async def count_round_trips(
    gateway_url: str,
    client: aioredis.Redis,
    keys: Keys,
    redis_url: str,
    released_tickets: list[str],
    ops: int,
    memory_joins: int,
    concurrency: int = 16,
    settle: float = 2.2,
) -> Counted:
    """Round trips per operation of each hot path, through a gateway whose controller does not
    tick during the windows, and whose snapshot has released every ticket of
    ``released_tickets`` (each used once, for the admission moment); and the memory per waiting
    user over ``memory_joins`` joins (outside any MONITOR window: a monitor's buffers are memory
    too)."""
    results: dict[str, OpCounts] = {}
    status_url, join_url = gateway_url + "/_wr/status", gateway_url + "/_wr/join"
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as s:
        # Warm up: the gateway opens its Redis connections lazily; not in any window.
        await fire(s, 4 * concurrency, lambda i: ("POST", join_url, JSON), '"ticket"', concurrency)

        async def joins_for_memory() -> None:
            request = ("POST", join_url, JSON)
            await fire(s, memory_joins, lambda i: request, '"waiting"', concurrency)

        memory = None
        if memory_joins:
            memory = await memory_per_user(client, keys, joins_for_memory, settle)
        bodies: list[str] = []

        async def joins() -> None:
            bodies.extend(
                await fire(s, ops, lambda i: ("POST", join_url, JSON), '"waiting"', concurrency)
            )

        results["join"] = await count_commands(client, redis_url, ops, joins)
        ticket = {"cookie": "wr_ticket=" + cookie_value(bodies[-1], "wr_ticket")}

        async def polls() -> None:
            await fire(
                s, ops, lambda i: ("GET", status_url, {**JSON, **ticket}), '"waiting"', concurrency
            )

        results["status poll"] = await count_commands(client, redis_url, ops, polls)

        async def pages() -> None:
            request = ("GET", gateway_url + "/", {**BROWSER, **ticket})
            await fire(s, ops, lambda i: request, WAITING_PAGE_MARKER, concurrency)

        results["waiting page"] = await count_commands(client, redis_url, ops, pages)

        admitted: list[str] = []

        async def admissions() -> None:
            def request(i: int) -> tuple[str, str, dict[str, str]]:
                return ("GET", status_url, {**JSON, "cookie": "wr_ticket=" + released_tickets[i]})

            admitted.extend(
                await fire(s, len(released_tickets), request, '"admitted"', concurrency)
            )

        results["admission"] = await count_commands(
            client, redis_url, len(released_tickets), admissions
        )
        wr_pass = {"cookie": "wr_pass=" + cookie_value(admitted[0], "wr_pass")}

        async def proxied() -> None:
            request = ("GET", gateway_url + "/", {**BROWSER, **wr_pass})
            await fire(s, ops, lambda i: request, BACKEND_MARKER, concurrency)

        results["proxied GET"] = await count_commands(client, redis_url, ops, proxied)
    return Counted(results, memory)


COUNTING_TICK = "3600"  # the counting gateway's controller ticks at startup only
# The proxy's safety ceiling stays in the path but never binds.
BACKEND_RPS = "1000000"


async def measure_round_trips(
    redis_url: str,
    backend_url: str,
    secret: str,
    keys: Keys,
    log_dir: Path,
    cpu: int,
    ops: int,
    admissions: int,
    memory_joins: int,
    settle: float = 2.2,
) -> Counted:
    """Start a gateway (one worker) whose controller ticks only at startup, with ``admissions``
    tickets that its startup tick releases; count each hot path's Redis commands over ``ops``
    requests, and the memory of ``memory_joins`` joins."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        store = RedisStore(client, keys)
        await room.set_config(store, mode="queue", **room.ADMITTING)
        epoch, positions = await room.join_block(client, keys, admissions)
        tickets = room.sign_tickets(TokenSigner([secret], keys.event), epoch, positions)
        # The startup tick releases what the time since the last tick allows (capped at 1 s).
        await asyncio.sleep(1.1)
        gateway = servers.start_gateway(
            "gateway-counting",
            redis_url,
            backend_url,
            secret,
            log_dir,
            cpu,
            event=keys.event,
            redis_prefix=keys.prefix,
            tick_interval=COUNTING_TICK,
            backend_rps=BACKEND_RPS,
        )
        try:
            served = (await room.state(client, keys)).get("serving", 0)
            if served < positions[-1]:
                raise RuntimeError(f"startup tick released {served} of {positions[-1]}")
            await asyncio.sleep(0.5)  # both startup ticks are done
            return await count_round_trips(
                gateway.url, client, keys, redis_url, tickets, ops, memory_joins, settle=settle
            )
        finally:
            gateway.stop()
    finally:
        await client.aclose()
