"""Photo upload: 413 beyond the size limit, 415 for anything but JPEG and PNG."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

JSON = {"accept": "application/json"}
MAX = 4096
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + b"\x00" * 100


@pytest.fixture
async def ready(stub):
    """A client on a stub with a 4 KiB photo limit, and an applicant at the photo step."""
    async with stub(photo_max_bytes=MAX) as client:
        from_register = await client.post(
            "/register", json={"name": "Foto", "email": "foto@contoh.id", "password": "12345678"}
        )
        account = from_register.json()
        auth = {"account_id": account["id"], "account_token": account["account_token"]}
        token = from_register.headers["x-stub-email-token"]
        await client.get("/verify-email", params={"token": token})
        r = await client.post(
            "/nik",
            json={
                **auth,
                "nik": "3201011705900001",
                "kk": "3201012345678901",
                "date_of_birth": "1990-05-17",
            },
        )
        assert r.status_code == 200
        yield client, auth


async def upload(client, auth, content: bytes, content_type: str = "image/png", **kw):
    files = {"photo": ("ktp", content, content_type)}
    return await client.post("/photo", data=auth, files=files, headers=JSON, **kw)


async def test_good_png_and_jpeg_are_accepted(ready, png):
    client, auth = ready
    r = await upload(client, auth, png)
    assert r.status_code == 200
    assert r.json()["photo"] == {"content_type": "image/png", "bytes": len(png)}
    r = await upload(client, auth, JPEG, "image/jpeg")
    assert r.status_code == 200
    assert r.json()["photo"]["content_type"] == "image/jpeg"


async def test_a_photo_of_exactly_the_limit_is_accepted(ready, png):
    client, auth = ready
    r = await upload(client, auth, png + b"\x00" * (MAX - len(png)))
    assert r.status_code == 200


async def test_one_byte_over_the_limit_is_413(ready, png):
    client, auth = ready
    # The body fits the multipart allowance; the file part itself is one byte too big.
    r = await upload(client, auth, png + b"\x00" * (MAX + 1 - len(png)))
    assert r.status_code == 413
    assert r.json()["codes"] == {"photo": "photo_too_large"}


async def test_declared_content_length_is_checked_before_reading(ready, png):
    client, auth = ready
    r = await upload(client, auth, png + b"\x00" * (MAX + 64 * 1024))
    assert r.status_code == 413


async def test_streamed_bytes_are_counted_without_content_length(ready):
    client, _ = ready
    boundary = "stubboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="k.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()

    async def body() -> AsyncIterator[bytes]:
        yield head + b"\x89PNG\r\n\x1a\n"
        for _ in range(40):  # 40 KiB of chunks, no Content-Length: chunked upload
            yield b"\x00" * 1024
        yield f"\r\n--{boundary}--\r\n".encode()

    r = await client.post(
        "/photo",
        content=body(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}", **JSON},
    )
    assert "content-length" not in r.request.headers
    assert r.status_code == 413


@pytest.mark.parametrize(
    ("content", "declared"),
    [
        (b"GIF89a" + b"\x00" * 50, "image/gif"),  # a type that is not allowed
        (b"GIF89a" + b"\x00" * 50, "image/png"),  # declared PNG, but is not one
        (JPEG, "image/png"),  # declared PNG, is a JPEG
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "image/jpeg"),  # declared JPEG, is a PNG
        (b"<script>alert(1)</script>", "text/html"),
    ],
)
async def test_wrong_types_are_415(ready, content, declared):
    client, auth = ready
    r = await upload(client, auth, content, declared)
    assert r.status_code == 415
    assert r.json()["codes"] == {"photo": "photo_type"}


async def test_not_multipart_is_415(ready, png):
    client, _ = ready
    r = await client.post("/photo", content=png, headers={"content-type": "image/png", **JSON})
    assert r.status_code == 415
    assert r.json()["error"] == "multipart_expected"


async def test_missing_or_empty_photo_is_422(ready):
    client, auth = ready
    r = await client.post(
        "/photo", data=auth, files={"other": ("x", b"1", "text/plain")}, headers=JSON
    )
    assert r.status_code == 422
    assert r.json()["codes"] == {"photo": "required"}
    r = await upload(client, auth, b"")
    assert r.status_code == 422
    assert r.json()["codes"] == {"photo": "photo_empty"}


async def test_broken_multipart_is_400(ready):
    client, _ = ready
    r = await client.post(
        "/photo",
        content=b"garbage without boundaries",
        headers={"content-type": "multipart/form-data; boundary=xyz", **JSON},
    )
    assert r.status_code == 400


async def test_photo_needs_credentials(ready, png):
    client, _ = ready
    r = await upload(client, {}, png)
    assert r.status_code == 401
