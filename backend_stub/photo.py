"""The photo upload: a size-limited multipart body and a JPEG or PNG inside it.

The size is enforced three times, because clients lie or omit: the declared Content-Length
(before reading anything), the bytes actually streamed (while reading; the allowance covers the
multipart framing and the small fields), and the size of the file part itself. The type is
checked twice: the part's declared Content-Type and the file's magic bytes must agree.
"""

from __future__ import annotations

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.types import Message

from backend_stub.errors import ApiError, ValidationFailed
from backend_stub.payload import declared_length
from backend_stub.store import Photo

FIELD = "photo"
MULTIPART_ALLOWANCE = 16 * 1024  # boundaries, part headers and the account fields
MAGIC = {
    "image/jpeg": b"\xff\xd8\xff",
    "image/png": b"\x89PNG\r\n\x1a\n",
}


def sniff(head: bytes) -> str | None:
    for media, magic in MAGIC.items():
        if head.startswith(magic):
            return media
    return None


def _too_large() -> ApiError:
    return ApiError(413, "photo_too_large", {FIELD: "photo_too_large"})


async def read_photo_form(request: Request, max_bytes: int) -> FormData:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "multipart/form-data":
        raise ApiError(415, "multipart_expected")
    limit = max_bytes + MULTIPART_ALLOWANCE
    length = declared_length(request)
    if length is not None and length > limit:
        raise _too_large()

    received = 0
    receive = request.receive

    async def counting_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise _too_large()
        return message

    counted = Request(request.scope, counting_receive)
    # One file; the form's small fields may not hide a payload either.
    return await counted.form(max_files=1, max_fields=20, max_part_size=4096)


async def check_photo(form: FormData, max_bytes: int) -> Photo:
    upload = form.get(FIELD)
    if not isinstance(upload, UploadFile):
        raise ValidationFailed({FIELD: "required"})
    size = upload.size or 0
    if size > max_bytes:
        raise _too_large()
    if size == 0:
        raise ValidationFailed({FIELD: "photo_empty"})
    declared = (upload.content_type or "").split(";")[0].strip().lower()
    head = await upload.read(16)
    if declared not in MAGIC or sniff(head) != declared:
        raise ApiError(415, "photo_type", {FIELD: "photo_type"})
    return Photo(content_type=declared, size=size)
