"""The whole funnel, in JSON and in HTML, and the rules between its steps."""

from __future__ import annotations

JSON = {"accept": "application/json"}


async def test_whole_funnel_over_json(client, funnel):
    applicant = funnel()
    seen: list[tuple[str, object]] = []

    r = await client.get("/", headers=JSON)
    seen.append(("landing", r))
    assert r.status_code == 200
    assert r.json()["next"] == "/register"

    r = await applicant.register("Siti.Rahayu@Contoh.ID")
    seen.append(("register", r))
    assert r.status_code == 201
    assert r.json()["email"] == "siti.rahayu@contoh.id"
    assert r.json()["email_verified"] is False
    assert set(r.json()) == {"id", "email", "account_token", "email_verified"}

    r = await applicant.verify()
    seen.append(("verify", r))
    assert r.status_code == 200
    assert r.json()["email_verified"] is True

    r = await applicant.submit_nik()
    seen.append(("nik", r))
    assert r.status_code == 200
    assert r.json()["nik_verified"] is True

    r = await applicant.upload()
    seen.append(("photo", r))
    assert r.status_code == 200
    assert r.json()["photo"]["content_type"] == "image/png"

    r = await applicant.join("gelombang-2")
    seen.append(("batch", r))
    assert r.status_code == 200
    assert r.json() == {"id": applicant.id, "batch": "gelombang-2", "joined": True}

    # The release command comes with the last step and only there.
    released = [step for step, resp in seen if "x-wr-command" in resp.headers]
    assert released == ["batch"]
    assert seen[-1][1].headers["x-wr-command"] == "release"

    stats = (await client.get("/_stub/stats")).json()
    assert stats["funnel"] == {
        "registered": 1,
        "email_verified": 1,
        "nik_verified": 1,
        "photo_uploaded": 1,
        "joined_batch": 1,
    }
    assert stats["requests"]["POST /nik"] == {"200": 1}


async def test_failed_or_early_batch_does_not_release(client, funnel):
    applicant = await funnel().verified()
    await applicant.submit_nik()
    r = await applicant.join()  # no photo yet
    assert r.status_code == 403
    assert r.json()["error"] == "photo_required"
    assert "x-wr-command" not in r.headers
    await applicant.upload()
    r = await applicant.join("gelombang-99")
    assert r.status_code == 422
    assert r.json()["codes"] == {"batch": "batch_invalid"}
    assert "x-wr-command" not in r.headers


async def test_steps_must_come_in_order(funnel):
    applicant = await funnel().verified()
    r = await applicant.upload()
    assert r.status_code == 403
    assert r.json()["error"] == "nik_required"


async def test_duplicate_email_is_409_whatever_the_case(funnel):
    assert (await funnel().register("dupe@contoh.id")).status_code == 201
    r = await funnel().register("DUPE@contoh.id")
    assert r.status_code == 409
    assert r.json()["codes"] == {"email": "email_taken"}


async def test_duplicate_nik_is_409(funnel, new_nik):
    nik = new_nik()
    first, second = await funnel().verified(), await funnel().verified()
    assert (await first.submit_nik(nik=nik)).status_code == 200
    r = await second.submit_nik(nik=nik)
    assert r.status_code == 409
    assert r.json()["codes"] == {"nik": "nik_taken"}
    # The owner repeating its own NIK is answered from memory, not refused.
    assert (await first.submit_nik(nik=nik)).status_code == 200
    # But an account cannot swap its NIK for another.
    r = await first.submit_nik(nik=new_nik())
    assert r.status_code == 409
    assert r.json()["error"] == "nik_already_set"


async def test_batch_can_be_joined_once(funnel):
    applicant = await funnel().verified()
    await applicant.submit_nik()
    await applicant.upload()
    assert (await applicant.join("gelombang-1")).status_code == 200
    assert (await applicant.join("gelombang-1")).status_code == 200  # a retry is harmless
    r = await applicant.join("gelombang-3")
    assert r.status_code == 409
    assert "x-wr-command" not in r.headers


async def test_html_landing_in_indonesian_and_english(client):
    r = await client.get("/")
    assert r.headers["content-type"].startswith("text/html")
    assert "<title>" in r.text
    assert "Kartu Prakerja" in r.text.split("<title>")[1].split("</title>")[0]
    assert 'href="/register"' in r.text
    assert 'lang="id"' in r.text
    assert "Daftar sekarang" in r.text

    r = await client.get("/", headers={"accept-language": "en-US,en;q=0.9,id;q=0.8"})
    assert "Register now" in r.text
    r = await client.get("/", headers={"accept-language": "en;q=0.5, id"})
    assert "Daftar sekarang" in r.text
    r = await client.get("/?lang=en", headers={"accept-language": "id"})
    assert "Register now" in r.text
    assert 'href="/register?lang=en"' in r.text


async def test_html_funnel_with_forms_and_the_cookie(client, new_nik, png):
    r = await client.post(
        "/register",
        data={"name": "Budi", "email": "budi.html@contoh.id", "password": "rahasia123"},
    )
    assert r.status_code == 201
    assert "Periksa e-mail Anda" in r.text
    token = r.headers["x-stub-email-token"]
    assert f"/verify-email?token={token}" in r.text  # stub mode shows the link
    assert "stub_account" in client.cookies

    r = await client.get("/verify-email", params={"token": token})
    assert r.status_code == 200
    assert 'href="/nik"' in r.text

    nik = new_nik()
    r = await client.post(
        "/nik", data={"nik": nik, "kk": "3201012345678901", "date_of_birth": "1990-05-17"}
    )
    assert r.status_code == 200, r.text
    assert "NIK terverifikasi" in r.text

    r = await client.post("/photo", files={"photo": ("ktp.png", png, "image/png")})
    assert r.status_code == 200
    r = await client.get("/batch")
    assert 'value="gelombang-1"' in r.text
    r = await client.post("/batch", data={"batch": "gelombang-1"})
    assert r.status_code == 200
    assert r.headers["x-wr-command"] == "release"
    assert "Pendaftaran selesai" in r.text


async def test_tokens_can_be_hidden(stub):
    async with stub(expose_tokens=False) as client:
        r = await client.post(
            "/register", json={"name": "A", "email": "a@contoh.id", "password": "12345678"}
        )
        assert r.status_code == 201
        assert "x-stub-email-token" not in r.headers


async def test_reset_clears_stats_and_optionally_data(client, funnel):
    await funnel().verified()
    stats = (await client.get("/_stub/stats")).json()
    assert stats["total_requests"] == 2
    assert stats["stub"]["peak_in_flight"] == 1

    r = await client.post("/_stub/reset")
    assert r.json() == {"reset": True, "data_cleared": False}
    stats = (await client.get("/_stub/stats")).json()
    assert stats["total_requests"] == 0
    assert stats["stub"]["peak_in_flight"] == 0
    assert stats["funnel"]["registered"] == 1

    await client.post("/_stub/reset?data=1")
    assert (await client.get("/_stub/stats")).json()["funnel"]["registered"] == 0
