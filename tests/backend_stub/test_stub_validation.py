"""Bad input gets a clear 4xx, one message per field, and never a 500."""

from __future__ import annotations

from datetime import date

import pytest

from backend_stub.nik import NikInfo, check_nik_form, make_nik, mask, parse_nik

JSON = {"accept": "application/json"}
GOOD_NIK = make_nik(date(1990, 5, 17))  # 3201011705900001


# --- registration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("name", "", "required"),
        ("name", "   ", "required"),
        ("name", "x" * 101, "name_too_long"),
        ("email", "not-an-email", "email_invalid"),
        ("email", "budi@localhost", "email_invalid"),
        ("email", "budi @contoh.id", "email_invalid"),
        ("email", "budi@@contoh.id", "email_invalid"),
        ("password", "1234567", "password_too_short"),
        ("password", "x" * 129, "password_too_long"),
    ],
)
async def test_register_rejects_each_field(client, field, value, code):
    body = {"name": "Budi Santoso", "email": "budi@contoh.id", "password": "rahasia123"}
    body[field] = value
    r = await client.post("/register", json=body)
    assert r.status_code == 422
    assert r.json()["codes"] == {field: code}
    assert r.json()["errors"][field]  # a human-readable message, too


async def test_register_reports_every_bad_field_at_once_in_english(client):
    r = await client.post("/register?lang=en", json={"name": "", "email": "x", "password": 7})
    assert r.status_code == 422
    assert r.json()["codes"] == {
        "name": "required",
        "email": "email_invalid",
        "password": "not_a_string",
    }
    assert r.json()["errors"]["email"] == "This is not a valid e-mail address."


async def test_register_name_of_100_chars_is_fine(client):
    body = {"name": "x" * 100, "email": "panjang@contoh.id", "password": "12345678"}
    assert (await client.post("/register", json=body)).status_code == 201


async def test_html_form_errors_rerender_the_form_in_indonesian(client):
    r = await client.post("/register", data={"name": "Budi", "email": "salah", "password": "1"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html")
    assert "Alamat e-mail tidak valid." in r.text
    assert 'value="salah"' in r.text  # the form keeps what was typed, except the password


# --- NIK ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"nik": GOOD_NIK[:15]}, {"nik": "nik_length"}),
        ({"nik": GOOD_NIK + "1"}, {"nik": "nik_length"}),
        ({"nik": GOOD_NIK[:15] + "a"}, {"nik": "nik_not_digits"}),
        ({"nik": "3201-11705900001"}, {"nik": "nik_not_digits"}),
        ({"nik": "٣" * 16}, {"nik": "nik_not_digits"}),  # Arabic-Indic digits are not digits here
        ({"nik": "10" + GOOD_NIK[2:]}, {"nik": "nik_province"}),
        ({"nik": "95" + GOOD_NIK[2:]}, {"nik": "nik_province"}),
        ({"nik": GOOD_NIK[:6] + "32" + GOOD_NIK[8:]}, {"nik": "nik_birth_date"}),
        ({"nik": GOOD_NIK[:8] + "13" + GOOD_NIK[10:]}, {"nik": "nik_birth_date"}),
        ({"date_of_birth": "1990-05-18"}, {"nik": "nik_dob_mismatch"}),
        ({"date_of_birth": "1991-05-17"}, {"nik": "nik_dob_mismatch"}),
        ({"kk": "123"}, {"kk": "kk_length"}),
        ({"kk": "320101234567890x"}, {"kk": "kk_not_digits"}),
        ({"date_of_birth": "17-05-1990"}, {"date_of_birth": "dob_format"}),
        ({"date_of_birth": "1990-02-30"}, {"date_of_birth": "dob_format"}),
        ({"date_of_birth": "2999-01-01"}, {"date_of_birth": "dob_future"}),
        ({"nik": ""}, {"nik": "required"}),
    ],
)
async def test_nik_rejects_each_field(funnel, fields, expected):
    applicant = await funnel().verified()
    base = {"nik": GOOD_NIK, "kk": "3201012345678901", "date_of_birth": "1990-05-17"}
    r = await applicant.submit_nik(**{**base, **fields})
    assert r.status_code == 422, r.text
    assert r.json()["codes"] == expected


async def test_nik_accepts_women_with_40_added_to_the_day(funnel):
    applicant = await funnel().verified()
    nik = make_nik(date(1985, 12, 3), female=True, province=94)
    assert nik[6:8] == "43"
    r = await applicant.submit_nik(nik=nik, date_of_birth="1985-12-03")
    assert r.status_code == 200
    assert r.json()["sex"] == "F"
    assert r.json()["nik"] == mask(nik) != nik


async def test_nik_needs_a_verified_email(funnel):
    applicant = funnel()
    await applicant.register()
    r = await applicant.submit_nik()
    assert r.status_code == 403
    assert r.json()["error"] == "email_not_verified"


async def test_nik_needs_credentials(client, funnel):
    applicant = await funnel().verified()
    body = {"nik": GOOD_NIK, "kk": "3201012345678901", "date_of_birth": "1990-05-17"}
    r = await client.post("/nik", json=body)
    assert r.status_code == 401
    assert r.json()["error"] == "auth_required"
    r = await client.post("/nik", json={**body, "account_id": applicant.id, "account_token": "x"})
    assert r.status_code == 401
    assert r.json()["error"] == "auth_invalid"


async def test_headers_authenticate_too(client, funnel):
    applicant = await funnel().verified()
    body = {"nik": GOOD_NIK, "kk": "3201012345678901", "date_of_birth": "1990-05-17"}
    headers = {"x-stub-account": applicant.id, "x-stub-token": applicant.token}
    r = await client.post("/nik", json=body, headers=headers)
    assert r.status_code == 200


def test_parse_nik_reads_the_parts():
    info = parse_nik(make_nik(date(2001, 2, 9), female=True, province=11))
    assert info == NikInfo(
        province_code=11, birth_day=9, birth_month=2, birth_year_2=1, female=True
    )


def test_check_nik_form_accepts_29_february_of_a_leap_year():
    born = date(1996, 2, 29)
    checked = check_nik_form(
        {"nik": make_nik(born), "kk": "1" * 16, "date_of_birth": "1996-02-29"}, date(2020, 4, 11)
    )
    assert checked.errors == {}
    assert checked.born == born


# --- bad requests of every kind -------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"{not json", 400, "bad_json"),
        (b"\xff\xfe\x00garbage", 400, "bad_json"),
        (b"[1, 2]", 400, "json_not_object"),
        (b'"string"', 400, "json_not_object"),
        (b"[" * 100_000, 413, "body_too_large"),
        (b"[" * 60_000, 400, "bad_json"),  # deep nesting: RecursionError, not a 500
    ],
)
async def test_junk_json_is_a_4xx(client, content, status, code):
    r = await client.post(
        "/register", content=content, headers={"content-type": "application/json"}
    )
    assert r.status_code == status
    assert r.json()["error"] == code


async def test_unsupported_body_type_is_415(client):
    r = await client.post(
        "/register", content=b"<x/>", headers={"content-type": "application/xml", **JSON}
    )
    assert r.status_code == 415


async def test_bad_form_encoding_is_400(client):
    r = await client.post(
        "/register",
        content=b"name=\xff\xfe",
        headers={"content-type": "application/x-www-form-urlencoded", **JSON},
    )
    assert r.status_code == 400
    assert r.json()["error"] == "bad_form"


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/"), ("DELETE", "/register"), ("PUT", "/nik"), ("POST", "/verify-email")],
)
async def test_wrong_method_is_405(client, method, path):
    r = await client.request(method, path, headers=JSON)
    assert r.status_code == 405
    assert r.json()["error"] == "method_not_allowed"
    assert "allow" in r.headers


async def test_unknown_path_is_404_in_html_and_json(client):
    assert (await client.get("/nope", headers=JSON)).json()["error"] == "not_found"
    r = await client.get("/nope")
    assert r.status_code == 404
    assert "Halaman tidak ditemukan" in r.text


@pytest.mark.parametrize(
    ("params", "status"),
    [({}, 400), ({"token": ""}, 400), ({"token": "a b<"}, 400), ({"token": "unknown"}, 404)],
)
async def test_bad_verification_token(client, params, status):
    r = await client.get("/verify-email", params=params, headers=JSON)
    assert r.status_code == status
