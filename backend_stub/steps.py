"""The later steps of the funnel: NIK check, photo upload, joining a training batch.

Each needs the account (see ``backend_stub.auth``) and the step before it, else 403:

- ``POST /nik`` (JSON or form: ``nik``, ``kk``, ``date_of_birth`` as YYYY-MM-DD) after the
  e-mail is verified. Validates (422 per field), refuses a NIK another account holds (409),
  then calls the simulated civil registry (504 when it is saturated).
- ``POST /photo`` (multipart: file part ``photo``, JPEG or PNG) after the NIK.
- ``POST /batch`` (JSON or form: ``batch``, one of ``BATCHES``) after the photo. Success
  carries ``X-WR-Command: release``: the gateway in front strips it and frees the applicant's
  admission slot, because the applicant is done.
"""

from __future__ import annotations

from datetime import date

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from backend_stub import render
from backend_stub.auth import authenticate
from backend_stub.errors import ApiError, UpstreamTimeout, ValidationFailed
from backend_stub.nik import check_nik_form, mask
from backend_stub.payload import read_fields
from backend_stub.photo import check_photo, read_photo_form
from backend_stub.runtime import runtime

BATCHES: dict[str, str] = {
    "gelombang-1": "Gelombang 1",
    "gelombang-2": "Gelombang 2",
    "gelombang-3": "Gelombang 3",
}
RELEASE_HEADER = {"X-WR-Command": "release"}


def _echo(fields: dict[str, object], names: tuple[str, ...]) -> dict[str, str]:
    return {k: v for k in names if isinstance(v := fields.get(k), str)}


async def nik(request: Request) -> Response:
    if request.method != "POST":
        if render.wants_json(request):
            return JSONResponse({"fields": ["nik", "kk", "date_of_birth"]})
        return render.page(request, "nik.html")
    rt = runtime(request)
    fields = await read_fields(request)
    try:
        account = authenticate(request, fields)
        if not account.email_verified:
            raise ApiError(403, "email_not_verified")
        checked = check_nik_form(fields, date.today())
        if checked.errors or checked.born is None or checked.info is None:
            raise ValidationFailed(checked.errors)
        if account.nik != checked.nik:  # a repeat of a verified NIK is answered from memory
            if account.nik is not None:
                raise ApiError(409, "nik_already_set")
            if rt.store.nik_owner(checked.nik) is not None:
                raise ApiError(409, "nik_taken", {"nik": "nik_taken"})
            try:
                await rt.registry.check(checked.nik)
            except UpstreamTimeout:
                rt.stats.record_overload("nik_timeout")
                retry = rt.retry_after(rt.settings.nik_timeout)
                raise ApiError(504, "nik_timeout", headers={"Retry-After": retry}) from None
            # Checks the NIK's owner again: another request may have claimed it meanwhile.
            rt.store.attach_nik(account, checked.nik, checked.kk, checked.born)
    except ApiError as exc:
        echo = _echo(fields, ("nik", "kk", "date_of_birth"))
        return render.error(request, exc, form="nik.html", context={"values": echo})
    body = {
        "id": account.id,
        "nik_verified": True,
        "nik": mask(checked.nik),
        "sex": "F" if checked.info.female else "M",
        "province_code": checked.info.province_code,
    }
    if render.wants_json(request):
        return JSONResponse(body)
    return render.page(request, "nik_done.html", body)


async def photo(request: Request) -> Response:
    rt = runtime(request)
    max_bytes = rt.settings.photo_max_bytes
    if request.method != "POST":
        if render.wants_json(request):
            return JSONResponse({"field": "photo", "types": ["image/jpeg", "image/png"]})
        return render.page(request, "photo.html", {"max_kib": max_bytes // 1024})
    context = {"max_kib": max_bytes // 1024}
    try:
        form = await read_photo_form(request, max_bytes)
    except ApiError as exc:
        return render.error(request, exc, form="photo.html", context=context)
    try:
        account = authenticate(request, {k: v for k, v in form.items() if isinstance(v, str)})
        if account.nik is None:
            raise ApiError(403, "nik_required")
        account.photo = await check_photo(form, max_bytes)
    except ApiError as exc:
        return render.error(request, exc, form="photo.html", context=context)
    finally:
        await form.close()
    body = {
        "id": account.id,
        "photo": {"content_type": account.photo.content_type, "bytes": account.photo.size},
    }
    if render.wants_json(request):
        return JSONResponse(body)
    return render.page(request, "photo_done.html", body)


async def batch(request: Request) -> Response:
    choices = [{"id": k, "name": v} for k, v in BATCHES.items()]
    if request.method != "POST":
        if render.wants_json(request):
            return JSONResponse({"batches": choices})
        return render.page(request, "batch.html", {"batches": choices})
    fields = await read_fields(request)
    try:
        account = authenticate(request, fields)
        if account.photo is None:
            raise ApiError(403, "photo_required")
        chosen = fields.get("batch")
        if chosen is None or chosen == "":
            raise ValidationFailed({"batch": "required"})
        if not isinstance(chosen, str) or chosen not in BATCHES:
            raise ValidationFailed({"batch": "batch_invalid"})
        if account.batch is not None and account.batch != chosen:
            raise ApiError(409, "batch_already_joined")
        account.batch = chosen
    except ApiError as exc:
        return render.error(request, exc, form="batch.html", context={"batches": choices})
    body = {"id": account.id, "batch": chosen, "joined": True}
    if render.wants_json(request):
        return JSONResponse(body, headers=RELEASE_HEADER)
    return render.page(request, "done.html", {"batch": BATCHES[chosen]}, headers=RELEASE_HEADER)
