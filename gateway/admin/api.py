"""The admin API under ``/_wr/admin/api/`` (JSON in, JSON out; see ``routes`` for the paths).

Every change goes through ``RedisStore.set_config`` (versioned, audited); then this worker ticks
at once so it answers with the change in effect, and the others pick it up within one tick.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from starlette.responses import Response

from gateway.admin.auth import ACTOR_HEADER, Admin, admin_api, clean_actor
from gateway.admin.opening import parse_when
from gateway.admin.state import build_state
from gateway.endpoints import EndpointRequest, Handler
from gateway.http import json_response
from gateway.runtime import Runtime
from waitingroom.errors import ConfigError, StoreError, VersionConflict

MAX_BODY = 16 * 1024


def unavailable() -> Response:
    return json_response({"error": "redis unavailable"}, 503, headers={"retry-after": "2"})


def _invalid(field: str, message: str) -> dict[str, Any]:
    return {"error": f"{field}: {message}", "field": field}


async def read_json(request: EndpointRequest, required: bool = True) -> dict[str, Any] | Response:
    """The body as a JSON object; an empty body is ``{}`` unless ``required``."""
    body = await request.body(MAX_BODY)
    if body is None:
        return json_response({"error": f"body larger than {MAX_BODY} bytes"}, 413)
    if not body.strip() and not required:
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return json_response({"error": "the body is not valid JSON"}, 400)
    if not isinstance(data, dict):
        return json_response({"error": "the body must be a JSON object"}, 400)
    return data


def _int_param(request: EndpointRequest, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_param(name)
    if raw is None or not raw.isdigit():
        return default
    return max(low, min(high, int(raw)))


async def refresh(runtime: Runtime) -> None:
    """Tick this worker now, so its next answer already has the change in effect."""
    with contextlib.suppress(StoreError):
        await runtime.room.tick()
    runtime.sampler.observe(runtime.room)


def current_config(runtime: Runtime) -> dict[str, Any] | None:
    snap = runtime.room.snapshot
    return snap.config.as_dict() if snap is not None else None


Outcome = tuple[int, dict[str, Any]]


async def apply(
    runtime: Runtime, changes: dict[str, Any], actor: str, version: object = None
) -> Outcome:
    """Validate and apply ``changes``: 200, 409 (stale version), 422 (bad field) or 503."""
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        return 422, _invalid("version", "must be an integer: the config version changed from")
    if isinstance(changes.get("opens_at"), str):
        try:
            changes["opens_at"] = parse_when(changes["opens_at"]) if changes["opens_at"] else None
        except ValueError as exc:
            return 422, _invalid("opens_at", str(exc))
    try:
        new_version = await runtime.store.set_config(changes, actor, version)
    except ConfigError as exc:
        return 422, _invalid(exc.field, exc.message)
    except VersionConflict as exc:
        return 409, {
            "error": "the config changed since the version this change is based on",
            "current_version": exc.current_version,
        }
    except StoreError:
        return 503, {"error": "redis unavailable"}
    await refresh(runtime)
    return 200, {"version": new_version, "config": current_config(runtime)}


def respond(outcome: Outcome) -> Response:
    status, body = outcome
    headers = {"retry-after": "2"} if status == 503 else None
    return json_response(body, status, headers=headers)


def _actor(admin: Admin, request: EndpointRequest, body: dict[str, Any]) -> str:
    """X-WR-Actor, else the body's "actor", else the session's name or "admin"."""
    from_body = clean_actor(body.pop("actor", None))
    if request.header(ACTOR_HEADER) is None and from_body:
        return from_body
    return admin.actor


@admin_api
async def state(runtime: Runtime, request: EndpointRequest, admin: Admin) -> Response:
    body = await build_state(runtime)
    if body is None:
        return unavailable()
    return json_response(body)


@admin_api
async def series(runtime: Runtime, request: EndpointRequest, admin: Admin) -> Response:
    window = _int_param(request, "window", 900, 10, 900)
    step = _int_param(request, "step", 0, 1, 300) or None  # none: about 180 points
    points = runtime.sampler.series(float(window), None if step is None else float(step))
    return json_response({"worker": runtime.room.worker_id, "points": points})


@admin_api
async def get_config(runtime: Runtime, request: EndpointRequest, admin: Admin) -> Response:
    config = current_config(runtime)
    return json_response({"config": config}) if config is not None else unavailable()


@admin_api
async def patch_config(runtime: Runtime, request: EndpointRequest, admin: Admin) -> Response:
    body = await read_json(request)
    if isinstance(body, Response):
        return body
    actor = _actor(admin, request, body)
    version = body.pop("version", None)
    if not body:
        return json_response({"error": "no changes given"}, 400)
    return respond(await apply(runtime, body, actor, version))


@admin_api
async def audit(runtime: Runtime, request: EndpointRequest, admin: Admin) -> Response:
    limit = _int_param(request, "limit", 100, 1, 1000)
    try:
        entries = await runtime.store.audit(limit)
    except StoreError:
        return unavailable()
    return json_response({"entries": entries})


def action(changes: dict[str, Any]) -> Handler:
    """POST endpoints that apply a fixed change; an optional body may carry version and actor."""

    @admin_api
    async def endpoint(runtime: Runtime, request: EndpointRequest, admin: Admin) -> Response:
        body = await read_json(request, required=False)
        if isinstance(body, Response):
            return body
        actor = _actor(admin, request, body)
        return respond(await apply(runtime, dict(changes), actor, body.get("version")))

    return endpoint


pause = action({"mode": "pause"})
resume = action({"mode": "queue"})
close = action({"mode": "closed"})
open_now = action({"opens_at": None, "mode": "queue"})


@admin_api
async def reset(runtime: Runtime, request: EndpointRequest, admin: Admin) -> Response:
    body = await read_json(request)
    if isinstance(body, Response):
        return body
    event = runtime.settings.event
    if body.get("confirm") != event:
        return respond((422, _invalid("confirm", f"must be the event id, {event}")))
    try:
        epoch = await runtime.store.reset(_actor(admin, request, body))
    except StoreError:
        return unavailable()
    await refresh(runtime)
    return json_response({"epoch": int(epoch), "config": current_config(runtime)})
