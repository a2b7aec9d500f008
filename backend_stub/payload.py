"""Reading the fields of a request body: JSON object or URL-encoded form, size-limited.

Bad bodies are the client's fault and get a 4xx, never a 500: junk JSON or a JSON value that
is not an object is 400, an oversized body 413, any other content type 415.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.requests import Request

from backend_stub.errors import ApiError
from backend_stub.render import is_json_media

MAX_BODY_BYTES = 64 * 1024
MAX_FIELDS = 100
FORM_MEDIA = "application/x-www-form-urlencoded"


def declared_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    try:
        length = int(raw)
    except ValueError:
        raise ApiError(400, "bad_request") from None
    if length < 0:
        raise ApiError(400, "bad_request")
    return length


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole body, refused with 413 as soon as it is known to exceed ``limit``."""
    length = declared_length(request)
    if length is not None and length > limit:
        raise ApiError(413, "body_too_large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "body_too_large")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_fields(request: Request) -> dict[str, object]:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await read_body(request)
    if is_json_media(media):
        try:
            data = json.loads(body)
        # JSONDecodeError and UnicodeDecodeError are ValueErrors; deep nesting recurses.
        except (ValueError, RecursionError):
            raise ApiError(400, "bad_json") from None
        if not isinstance(data, dict):
            raise ApiError(400, "json_not_object")
        return data
    if media == FORM_MEDIA:
        try:
            pairs = parse_qsl(
                body.decode("utf-8"),
                keep_blank_values=True,
                strict_parsing=False,
                max_num_fields=MAX_FIELDS,
            )
        except ValueError:  # bad UTF-8, or too many fields
            raise ApiError(400, "bad_form") from None
        return dict(pairs)
    if not body and not media:
        return {}
    raise ApiError(415, "unsupported_media_type")
