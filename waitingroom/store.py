"""The Redis store: every Redis command of the waiting room goes through this module.

Each operation is one Lua script (one file in ``waitingroom/lua``, one round trip), registered
once per client. Every redis-py error is wrapped into ``StoreError`` / ``StoreUnavailable``.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as redis_errors
from redis.commands.core import AsyncScript

from waitingroom.clock import Clock
from waitingroom.config import RoomConfig, parse_changes
from waitingroom.errors import StoreError, StoreUnavailable, VersionConflict
from waitingroom.keys import Keys
from waitingroom.snapshot import History, RoomSnapshot

SCRIPTS = ("join", "advance", "snapshot", "admit", "renew", "release", "set_config", "reset")
# The controller never counts more than this much time per tick: after an outage of every
# worker, admissions resume at the rate instead of in one burst.
MAX_TICK_MS = 1000


@cache
def script_source(name: str) -> str:
    lua = resources.files("waitingroom") / "lua"
    prelude = (lua / "_prelude.lua").read_text(encoding="utf-8")
    return prelude + "\n" + (lua / f"{name}.lua").read_text(encoding="utf-8")


@dataclass(frozen=True, slots=True)
class JoinResult:
    closed: bool
    epoch: int
    position: int
    prequeue_lo: int | None
    prequeue_hi: int | None


@dataclass(frozen=True, slots=True)
class AdmitResult:
    status: str  # ok | wait | full | expired | used | epoch | closed
    expires_ms: int


@dataclass(frozen=True, slots=True)
class Floors:
    """The highest counters a worker has seen: restored if Redis comes back without them."""

    epoch: int = 0
    tail: int = 0
    serving: int = 0
    # Positions the tail skips past ``tail`` when this worker restores a lost state: the joins
    # other workers may have made since this worker last looked (invariant 1).
    margin: int = 0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _pairs(flat: list[Any]) -> dict[str, str]:
    return {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat), 2)}


def _wrap(exc: Exception) -> StoreError:
    if isinstance(exc, redis_errors.ConnectionError | redis_errors.TimeoutError | OSError):
        return StoreUnavailable(f"redis unavailable: {type(exc).__name__}")
    return StoreError(f"redis error: {type(exc).__name__}: {exc}")


def parse_snapshot(raw: list[Any]) -> RoomSnapshot:
    state = _pairs(raw[0])
    config = RoomConfig.from_redis(_pairs(raw[1]))
    history = History()
    flat = raw[4]
    history.merge([(int(_text(flat[i])), int(float(flat[i + 1]))) for i in range(0, len(flat), 2)])
    prequeue_lo = state.get("prequeue_lo")
    prequeue_hi = state.get("prequeue_hi")
    return RoomSnapshot(
        epoch=int(state.get("epoch", "0")),
        tail=int(state.get("tail", "0")),
        serving=int(state.get("serving", "0")),
        active=int(raw[2]),
        admitted=int(state.get("admitted", "0")),
        config=config,
        server_time=int(raw[3]) / 1000,
        show_ratio=float(state.get("show_ratio", "1")),
        prequeue_lo=int(prequeue_lo) if prequeue_lo is not None else None,
        prequeue_hi=int(prequeue_hi) if prequeue_hi is not None else None,
        prequeue_seed=state.get("prequeue_seed"),
        full_since=int(state.get("full_since", "0")) / 1000,
        last_full=int(state.get("last_full", "0")) / 1000,
        history=history,
    )


class RedisStore:
    """The waiting room's storage for one event. Policy lives elsewhere (room, controller)."""

    def __init__(self, client: aioredis.Redis, keys: Keys, clock: Clock | None = None) -> None:
        self.client = client
        self.keys = keys
        # None: scripts read the Redis server's clock, shared by every worker.
        self.clock = clock
        self._scripts: dict[str, AsyncScript] = {
            name: client.register_script(script_source(name)) for name in SCRIPTS
        }

    def _now(self) -> str:
        return "" if self.clock is None else str(int(self.clock.now() * 1000))

    async def _run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        script = self._scripts[name]
        try:
            try:
                # EVALSHA straight through execute_command, past redis-py's Script wrapper and
                # the evalsha method's decorators: on the join path, per call.
                return await self.client.execute_command(  # type: ignore[no-untyped-call]
                    "EVALSHA", script.sha, len(keys), *keys, self._now(), *args
                )
            except redis_errors.NoScriptError:
                # Redis lost its scripts (a restart): load this one and run it once more.
                return await script(keys=keys, args=[self._now(), *args])
        except redis_errors.RedisError as exc:
            raise _wrap(exc) from exc
        except OSError as exc:
            raise _wrap(exc) from exc

    async def load_scripts(self) -> None:
        """SCRIPT LOAD every script: at startup, and again when Redis comes back empty, so each
        operation stays one EVALSHA (redis-py would otherwise pay a NOSCRIPT round trip)."""
        try:
            for name in SCRIPTS:
                await self.client.script_load(script_source(name))
        except (redis_errors.RedisError, OSError) as exc:
            raise _wrap(exc) from exc

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except (redis_errors.RedisError, OSError) as exc:
            raise _wrap(exc) from exc

    async def join(self, floors: Floors = Floors()) -> JoinResult:
        k = self.keys
        raw = await self._run(
            "join",
            [k.state, k.config, k.history],
            [floors.epoch, floors.tail, floors.serving, floors.margin],
        )
        lo, hi = int(raw[3]), int(raw[4])
        return JoinResult(
            closed=_text(raw[0]) == "closed",
            epoch=int(_text(raw[1])),
            position=int(raw[2]),
            prequeue_lo=None if lo < 0 else lo,
            prequeue_hi=None if hi < 0 else hi,
        )

    async def advance(
        self, worker: str, floors: Floors = Floors(), hist_from: int = -1
    ) -> tuple[int, RoomSnapshot]:
        k = self.keys
        raw = await self._run(
            "advance",
            [k.state, k.config, k.sessions, k.history, k.used, k.workers],
            [
                *(floors.epoch, floors.tail, floors.serving),
                *(worker, MAX_TICK_MS, hist_from, floors.margin),
            ],
        )
        return int(raw[0]), parse_snapshot(raw[1])

    async def snapshot(self, hist_from: int = -1) -> RoomSnapshot:
        k = self.keys
        raw = await self._run("snapshot", [k.state, k.config, k.sessions, k.history], [hist_from])
        return parse_snapshot(raw)

    async def admit(self, epoch: int, position: int, session: str) -> AdmitResult:
        k = self.keys
        raw = await self._run(
            "admit",
            [k.state, k.config, k.sessions, k.history, k.used],
            [epoch, position, session],
        )
        return AdmitResult(_text(raw[0]), int(raw[1]))

    async def renew(self, session: str) -> int:
        """Slide a session's expiry forward; 0 when the session is gone."""
        return int(await self._run("renew", [self.keys.sessions, self.keys.config], [session]))

    async def release(self, session: str) -> bool:
        return bool(await self._run("release", [self.keys.sessions, self.keys.state], [session]))

    async def set_config(
        self,
        changes: dict[str, Any],
        actor: str,
        expected_version: int | None = None,
        only_if_missing: bool = False,
    ) -> int:
        """Validate and apply ``changes``; returns the new version.

        Raises ConfigError naming a bad field, VersionConflict on a stale ``expected_version``.
        """
        current = await self.snapshot()
        merged = parse_changes(current.config, changes)
        values = merged.to_redis()
        args: list[Any] = [
            "" if expected_version is None else expected_version,
            actor,
            "1" if only_if_missing else "0",
            secrets.token_hex(16),  # the shuffle seed, kept only if a new pre-queue starts
        ]
        names = values.keys() if only_if_missing else changes.keys()
        for name in names:
            args += [name, values[name]]
        k = self.keys
        raw = await self._run("set_config", [k.config, k.audit, k.state], args)
        status, version = _text(raw[0]), int(raw[1])
        if status == "conflict":
            raise VersionConflict(version)
        return version

    async def reset(self, actor: str) -> int:
        k = self.keys
        raw = await self._run(
            "reset", [k.state, k.sessions, k.history, k.used, k.audit, k.config], [actor]
        )
        return int(_text(raw))

    async def audit(self, count: int = 100) -> list[dict[str, Any]]:
        try:
            entries = await self.client.xrevrange(self.keys.audit, count=count)
        except (redis_errors.RedisError, OSError) as exc:
            raise _wrap(exc) from exc
        out = []
        for entry_id, fields in entries or []:
            data = {_text(a): _text(b) for a, b in (fields or {}).items()}
            out.append(
                {
                    "id": _text(entry_id),
                    "time": int(data.get("time", "0")) / 1000,
                    "actor": data.get("actor", ""),
                    "version": int(data.get("version", "0")),
                    "old": json.loads(data.get("old", "{}") or "{}"),
                    "new": json.loads(data.get("new", "{}") or "{}"),
                }
            )
        return out

    async def live_workers(self) -> dict[str, float]:
        try:
            entries: Any = await self.client.zrange(self.keys.workers, 0, -1, withscores=True)
        except (redis_errors.RedisError, OSError) as exc:
            raise _wrap(exc) from exc
        return {_text(member): float(score) / 1000 for member, score in entries}
