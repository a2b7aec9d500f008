"""The admin API under ``/_wr/admin/api/`` (JSON in, JSON out; see ``routes`` for the paths).

Every change goes through ``RedisStore.set_config`` (versioned, audited); then this worker ticks
at once so it answers with the change in effect, and the others pick it up within one tick.
"""

from __future__ import annotations

import contextlib
import json
import re
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
MAX_VERSION = 2**53  # config versions count up from 1; Lua compares them as doubles
JSON_TYPES = ("application/json",)
_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() also takes "²", which int() refuses


def unavailable() -> Response:
    return json_response({"error": "redis unavailable"}, 503, headers={"retry-after": "2"})


def _invalid(field: str, message: str) -> dict[str, Any]:
    return {"error": f"{field}: {message}", "field": field}


def too_large() -> Response:
    return json_response({"error": f"the body is larger than {MAX_BODY} bytes"}, 413)


def declared_too_large(request: EndpointRequest) -> bool:
    """A Content-Length over MAX_BODY: refused before reading a byte of the body."""
    length = (request.header(b"content-length") or "").strip()
    return _DIGITS.fullmatch(length) is not None and (len(length) > 12 or int(length) > MAX_BODY)


def _is_json(content_type: str | None) -> bool:
    """JSON (application/json or .../...+json), or no Content-Type at all (lenient: scripts)."""
    if content_type is None:
        return True
    media = content_type.partition(";")[0].strip().lower()
    return media in JSON_TYPES or media.endswith("+json")


class _Malformed(ValueError):
    """JSON that json.loads takes but RFC 8259 does not (NaN, Infinity) or that is ambiguous."""


def _no_constants(name: str) -> Any:
    raise _Malformed(f"{name} is not JSON")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        raise _Malformed("a key is given twice")
    return data


def _malformed(detail: str) -> Response:
    return json_response({"error": f"the body is not valid JSON: {detail}"}, 400)


def parse_json(body: bytes) -> dict[str, Any] | Response:
    """A JSON object, or 400: not UTF-8, not JSON, NaN/Infinity, a key twice, nested too deep
    (RecursionError), a lone surrogate escape (it could never be echoed back), not an object."""
    try:
        data = json.loads(
            body.decode("utf-8-sig"), parse_constant=_no_constants, object_pairs_hook=_object
        )
    except UnicodeDecodeError:
        return _malformed("not UTF-8")
    except RecursionError:
        return _malformed("nested too deep")
    except _Malformed as exc:
        return _malformed(str(exc))
    except json.JSONDecodeError as exc:
        return _malformed(f"{exc.msg} at character {exc.pos}")
    except ValueError:  # int() refuses a number of more than 4300 digits
        return _malformed("a number with too many digits")
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError, ValueError):
        return _malformed("a lone surrogate escape (\\ud800-\\udfff)")
    if not isinstance(data, dict):
        return json_response({"error": "the body must be a JSON object"}, 400)
    return data


async def read_json(request: EndpointRequest, required: bool = True) -> dict[str, Any] | Response:
    """The body as a JSON object; an empty body is ``{}`` unless ``required``.

    413 over MAX_BODY, 415 for a body of another Content-Type, 400 for anything else malformed.
    """
    if declared_too_large(request):
        return too_large()
    body = await request.body(MAX_BODY)
    if body is None:
        return too_large()
    if not body.strip():
        if required:
            return json_response({"error": "the body is empty: send a JSON object"}, 400)
        return {}
    if not _is_json(request.header(b"content-type")):
        return json_response(
            {"error": "the body must be JSON, sent with Content-Type: application/json"}, 415
        )
    return parse_json(body)


def _int_param(
    request: EndpointRequest, name: str, default: int, low: int, high: int
) -> int | Response:
    """A query parameter: absent or empty is ``default``; else ASCII digits within [low, high],
    or 422 naming it."""
    raw = request.query_param(name)
    if raw is None or not raw.strip():
        return default
    text = raw.strip()
    if (
        _DIGITS.fullmatch(text) is None
        or len(text.lstrip("0")) > 12
        or not low <= int(text) <= high
    ):
        return json_response(_invalid(name, f"must be an integer from {low} to {high}"), 422)
    return int(text)


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
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or not 0 <= version <= MAX_VERSION
    ):
        return 422, _invalid(
            "version", "must be the integer config version this change is based on"
        )
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


def _actor(admin: Admin, request: EndpointRequest, body: dict[str, Any]) -> str | Response:
    """X-WR-Actor, else the body's "actor", else the session's name or "admin"; 422 if the
    body's "actor" is not a string."""
    raw = body.pop("actor", None)
    if raw is not None and not isinstance(raw, str):
        return json_response(_invalid("actor", "must be a string (a name for the audit log)"), 422)
    from_body = clean_actor(raw)
    if request.header(ACTOR_HEADER) is None and from_body:
        return from_body
    return admin.actor


def _only(body: dict[str, Any], allowed: tuple[str, ...]) -> Response | None:
    """422 naming the first key of ``body`` that is not ``allowed``: nothing is ignored."""
    unknown = sorted(set(body) - set(allowed))
    if not unknown:
        return None
    return json_response(
        _invalid(unknown[0], f"unknown field (this takes {', '.join(allowed)})"), 422
    )


async def _body_and_actor(
    request: EndpointRequest,
    admin: Admin,
    allowed: tuple[str, ...] | None = None,
    required: bool = True,
) -> tuple[dict[str, Any], str] | Response:
    """The JSON body (less "actor") and who acts; a 4xx Response when either is not good, or
    when the body has a key not in ``allowed`` (None: any key)."""
    body = await read_json(request, required=required)
    if isinstance(body, Response):
        return body
    actor = _actor(admin, request, body)
    if isinstance(actor, Response):
        return actor
    if allowed is not None:
        refused = _only(body, allowed)
        if refused is not None:
            return refused
    return body, actor


@admin_api
async def state(runtime: Runtime, request: EndpointRequest, admin: Admin) -> Response:
    body = await build_state(runtime)
    if body is None:
        return unavailable()
    return json_response(body)


@admin_api
async def series(runtime: Runtime, request: EndpointRequest, admin: Admin) -> Response:
    window = _int_param(request, "window", 900, 10, 900)
    if isinstance(window, Response):
        return window
    step = _int_param(request, "step", 0, 0, 300)  # 0: about 180 points
    if isinstance(step, Response):
        return step
    points = runtime.sampler.series(float(window), float(step) if step else None)
    return json_response({"worker": runtime.room.worker_id, "points": points})


@admin_api
async def get_config(runtime: Runtime, request: EndpointRequest, admin: Admin) -> Response:
    config = current_config(runtime)
    return json_response({"config": config}) if config is not None else unavailable()


@admin_api
async def patch_config(runtime: Runtime, request: EndpointRequest, admin: Admin) -> Response:
    read = await _body_and_actor(request, admin)
    if isinstance(read, Response):
        return read
    body, actor = read
    version = body.pop("version", None)
    if not body:
        return json_response({"error": "no changes given"}, 400)
    return respond(await apply(runtime, body, actor, version))


@admin_api
async def audit(runtime: Runtime, request: EndpointRequest, admin: Admin) -> Response:
    limit = _int_param(request, "limit", 100, 1, 1000)
    if isinstance(limit, Response):
        return limit
    try:
        entries = await runtime.store.audit(limit)
    except StoreError:
        return unavailable()
    return json_response({"entries": entries})


def action(changes: dict[str, Any]) -> Handler:
    """POST endpoints that apply a fixed change; an optional body may carry version and actor."""

    @admin_api
    async def endpoint(runtime: Runtime, request: EndpointRequest, admin: Admin) -> Response:
        read = await _body_and_actor(request, admin, ("version", "actor"), required=False)
        if isinstance(read, Response):
            return read
        body, actor = read
        return respond(await apply(runtime, dict(changes), actor, body.get("version")))

    return endpoint


pause = action({"mode": "pause"})
resume = action({"mode": "queue"})
close = action({"mode": "closed"})
open_now = action({"opens_at": None, "mode": "queue"})


@admin_api
async def reset(runtime: Runtime, request: EndpointRequest, admin: Admin) -> Response:
    read = await _body_and_actor(request, admin, ("confirm", "actor"))
    if isinstance(read, Response):
        return read
    body, actor = read
    event = runtime.settings.event
    if body.get("confirm") != event:
        return respond((422, _invalid("confirm", f"must be the event id, {event}")))
    try:
        epoch = await runtime.store.reset(actor)
    except StoreError:
        return unavailable()
    await refresh(runtime)
    return json_response({"epoch": int(epoch), "config": current_config(runtime)})
