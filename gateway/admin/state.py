"""The state JSON of ``GET /_wr/admin/api/state``: what the dashboard and ``gateway admin status``
show. Built from this worker's cached snapshot and sampler; one Redis call (worker liveness)."""

from __future__ import annotations

from typing import Any

from gateway.admin.capacity import capacity
from gateway.admin.opening import iso_wib
from gateway.runtime import Runtime
from waitingroom.errors import StoreError
from waitingroom.eta import estimate

# A worker ticks every ~250 ms; one that has not for this long is reported as not live.
LIVE_WITHIN = 5.0


async def workers(runtime: Runtime, now: float) -> list[dict[str, Any]] | None:
    try:
        seen = await runtime.store.live_workers()
    except StoreError:
        return None
    me = runtime.room.worker_id
    return [
        {
            "id": worker,
            "last_seen_seconds_ago": round(max(0.0, now - at), 3),
            "live": now - at <= LIVE_WITHIN,
            "this": worker == me,
        }
        for worker, at in sorted(seen.items())
    ]


async def build_state(runtime: Runtime) -> dict[str, Any] | None:
    """None until this worker has read the room from Redis once."""
    room = runtime.room
    snap = room.snapshot
    if snap is None:
        return None
    config = snap.config
    sampler = runtime.sampler
    rates = sampler.rates(60.0)
    backend = rates.pop("backend")
    now = snap.server_time
    eta = None
    if config.mode == "queue" and (config.opens_at is None or config.opens_at <= now):
        rate = room.rate.rate(config.rate_per_minute, snap.active < config.max_active)
        eta = estimate(snap.queue_length + 1, rate)
    opens_in = None
    if config.opens_at is not None:
        opens_in = round(config.opens_at - now, 3)
    prequeue = None
    if snap.prequeue_lo is not None and snap.prequeue_hi is None:
        prequeue = max(0, snap.tail - snap.prequeue_lo)
    # When this worker first saw this config version (Redis clock): how fast changes propagate.
    seen_at = sampler.config_seen_at if sampler.config_version == config.version else None
    return {
        "event": runtime.settings.event,
        "worker": room.worker_id,
        "server_time": now,
        "redis_ok": room.redis_ok,
        "stale": room.stale,
        "epoch": snap.epoch,
        "config": config.as_dict(),
        "config_seen_at": seen_at,
        "tail": snap.tail,
        "serving": snap.serving,
        "queue_length": snap.queue_length,
        "active_sessions": snap.active,
        "admitted_total": snap.admitted,
        "admission_rate_per_minute": rates["admissions_per_minute"],
        "rates": rates,
        "no_show_ratio": round(1.0 - snap.show_ratio, 4),
        "eta_newcomer_seconds": list(eta) if eta is not None else None,
        "opening": {
            "opens_at": config.opens_at,
            "opens_at_iso": iso_wib(config.opens_at),
            "opens_in_seconds": opens_in,
            "prequeue": prequeue,
        },
        "backend": backend,
        "workers": await workers(runtime, now),
        "capacity": capacity(config.rate_per_minute),
    }
