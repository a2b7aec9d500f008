"""Every text the stub shows, in Bahasa Indonesia (the default) and English.

The language is ``?lang=id|en`` if given, else the preferred of the two in Accept-Language,
else Indonesian. Error messages in JSON responses are translated the same way; their stable
``code`` is what programs should look at.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"

MESSAGES: dict[str, tuple[str, str]] = {
    # key: (Bahasa Indonesia, English)
    "site_title": ("Kartu Prakerja", "Kartu Prakerja"),
    "site_tagline": (
        "Program Kartu Prakerja - pendaftaran gelombang baru",
        "Kartu Prakerja programme - registration for the new batch",
    ),
    "switch_language": ("English", "Bahasa Indonesia"),
    "landing_heading": ("Selamat datang di Kartu Prakerja", "Welcome to Kartu Prakerja"),
    "landing_intro": (
        "Bantuan biaya pelatihan dan insentif bagi pencari kerja, pekerja, dan pelaku usaha"
        " mikro yang terdampak pandemi Covid-19.",
        "Training grants and incentives for job seekers, workers and micro-business owners"
        " affected by the Covid-19 pandemic.",
    ),
    "landing_steps": ("Langkah pendaftaran", "Registration steps"),
    "step_register": ("Buat akun", "Create an account"),
    "step_verify": ("Verifikasi e-mail", "Verify your e-mail"),
    "step_nik": ("Verifikasi NIK", "Verify your NIK"),
    "step_photo": ("Unggah foto KTP", "Upload an ID-card photo"),
    "step_batch": ("Gabung gelombang pelatihan", "Join a training batch"),
    "register_now": ("Daftar sekarang", "Register now"),
    "register_heading": ("Buat akun", "Create an account"),
    "field_name": ("Nama lengkap", "Full name"),
    "field_email": ("Alamat e-mail", "E-mail address"),
    "field_password": ("Kata sandi (minimal 8 karakter)", "Password (at least 8 characters)"),
    "field_nik": ("NIK (16 digit)", "NIK (16 digits)"),
    "field_kk": ("Nomor Kartu Keluarga (16 digit)", "Family card (KK) number (16 digits)"),
    "field_date_of_birth": ("Tanggal lahir", "Date of birth"),
    "field_photo": ("Foto selfie dengan KTP", "Selfie holding your ID card"),
    "field_batch": ("Gelombang", "Batch"),
    "submit": ("Kirim", "Submit"),
    "fix_errors": ("Mohon perbaiki isian berikut.", "Please correct the fields below."),
    "check_email_heading": ("Periksa e-mail Anda", "Check your e-mail"),
    "check_email_text": (
        "Kami telah mengirim tautan verifikasi ke {email}. Buka tautan itu untuk melanjutkan.",
        "We have sent a verification link to {email}. Open it to continue.",
    ),
    "stub_note": (
        "Mode stub: e-mail tidak benar-benar dikirim. Tautan verifikasi:",
        "Stub mode: no e-mail is really sent. The verification link:",
    ),
    "verified_heading": ("E-mail terverifikasi", "E-mail verified"),
    "verified_text": (
        "Terima kasih. Lanjutkan dengan verifikasi NIK.",
        "Thank you. Continue with the NIK check.",
    ),
    "continue": ("Lanjutkan", "Continue"),
    "nik_heading": ("Verifikasi NIK", "Verify your NIK"),
    "nik_hint": (
        "NIK dan tanggal lahir dicocokkan dengan data Dukcapil.",
        "Your NIK and date of birth are checked against the civil registry (Dukcapil).",
    ),
    "nik_done_heading": ("NIK terverifikasi", "NIK verified"),
    "photo_heading": ("Unggah foto", "Upload a photo"),
    "photo_hint": (
        "Format JPEG atau PNG, maksimal {max_kib} KiB.",
        "JPEG or PNG, at most {max_kib} KiB.",
    ),
    "photo_done_heading": ("Foto diterima", "Photo received"),
    "batch_heading": ("Pilih gelombang pelatihan", "Choose a training batch"),
    "done_heading": ("Pendaftaran selesai", "Registration complete"),
    "done_text": (
        "Anda terdaftar di {batch}. Pengumuman hasil seleksi dikirim melalui e-mail.",
        "You have joined {batch}. The selection result will be sent by e-mail.",
    ),
    "error_heading": ("Terjadi kesalahan", "Something went wrong"),
    "back_home": ("Kembali ke beranda", "Back to the home page"),
    "retry_after": (
        "Silakan coba lagi dalam {seconds} detik.",
        "Please try again in {seconds} seconds.",
    ),
    # Error codes: what went wrong, for one field or for the whole request.
    "required": ("Wajib diisi.", "This field is required."),
    "not_a_string": ("Harus berupa teks.", "Must be a string."),
    "name_too_long": ("Nama maksimal 100 karakter.", "The name must be at most 100 characters."),
    "email_invalid": ("Alamat e-mail tidak valid.", "This is not a valid e-mail address."),
    "password_too_short": (
        "Kata sandi minimal 8 karakter.",
        "The password must be at least 8 characters.",
    ),
    "password_too_long": (
        "Kata sandi maksimal 128 karakter.",
        "The password must be at most 128 characters.",
    ),
    "email_taken": ("E-mail ini sudah terdaftar.", "This e-mail address is already registered."),
    "nik_not_digits": ("NIK hanya boleh berisi angka.", "The NIK must contain digits only."),
    "nik_length": ("NIK harus 16 digit.", "The NIK must be exactly 16 digits."),
    "nik_province": (
        "Kode provinsi NIK (2 digit pertama) tidak valid.",
        "The province code of the NIK (its first 2 digits) is not valid.",
    ),
    "nik_birth_date": (
        "Tanggal lahir di dalam NIK (digit 7-12) tidak valid.",
        "The date of birth inside the NIK (digits 7-12) is not a valid date.",
    ),
    "nik_dob_mismatch": (
        "NIK tidak cocok dengan tanggal lahir.",
        "The NIK does not match the date of birth.",
    ),
    "kk_not_digits": (
        "Nomor KK hanya boleh berisi angka.",
        "The KK number must contain digits only.",
    ),
    "kk_length": ("Nomor KK harus 16 digit.", "The KK number must be exactly 16 digits."),
    "dob_format": (
        "Tanggal lahir harus berformat TTTT-BB-HH.",
        "The date of birth must be a date written YYYY-MM-DD.",
    ),
    "dob_future": (
        "Tanggal lahir tidak boleh di masa depan.",
        "The date of birth cannot be in the future.",
    ),
    "dob_too_old": ("Tanggal lahir tidak valid.", "The date of birth is not plausible."),
    "nik_taken": (
        "NIK ini sudah digunakan oleh akun lain.",
        "This NIK is already used by another account.",
    ),
    "nik_already_set": (
        "Akun ini sudah memiliki NIK lain.",
        "This account has already verified a different NIK.",
    ),
    "validation_failed": ("Isian tidak valid.", "Some fields are not valid."),
    "auth_required": (
        "Akun tidak dikenali: kirim account_id dan account_token.",
        "Who is this? Send account_id and account_token.",
    ),
    "auth_invalid": (
        "account_id atau account_token salah.",
        "Wrong account_id or account_token.",
    ),
    "email_not_verified": (
        "Verifikasi e-mail Anda terlebih dahulu.",
        "Verify your e-mail address first.",
    ),
    "nik_required": ("Verifikasi NIK Anda terlebih dahulu.", "Verify your NIK first."),
    "photo_required": ("Unggah foto Anda terlebih dahulu.", "Upload your photo first."),
    "photo_empty": ("File foto kosong.", "The photo file is empty."),
    "photo_too_large": ("Ukuran foto terlalu besar.", "The photo is too large."),
    "photo_type": (
        "Foto harus berupa JPEG atau PNG.",
        "The photo must be a JPEG or PNG image.",
    ),
    "multipart_expected": (
        "Kirim foto sebagai multipart/form-data.",
        "Send the photo as multipart/form-data.",
    ),
    "batch_invalid": ("Gelombang tidak tersedia.", "There is no such batch."),
    "batch_already_joined": (
        "Anda sudah terdaftar di gelombang lain.",
        "You have already joined another batch.",
    ),
    "token_invalid": (
        "Tautan verifikasi tidak lengkap atau rusak.",
        "The verification link is incomplete or damaged.",
    ),
    "token_unknown": (
        "Tautan verifikasi tidak dikenal.",
        "This verification link is not known.",
    ),
    "bad_json": ("Badan permintaan bukan JSON yang valid.", "The request body is not valid JSON."),
    "json_not_object": (
        "Badan permintaan harus berupa objek JSON.",
        "The request body must be a JSON object.",
    ),
    "bad_form": ("Isian formulir tidak dapat dibaca.", "The form data could not be read."),
    "body_too_large": ("Permintaan terlalu besar.", "The request body is too large."),
    "unsupported_media_type": (
        "Kirim JSON atau formulir (application/x-www-form-urlencoded).",
        "Send JSON or a form (application/x-www-form-urlencoded).",
    ),
    "bad_request": ("Permintaan tidak valid.", "Bad request."),
    "not_found": ("Halaman tidak ditemukan.", "Page not found."),
    "method_not_allowed": ("Metode tidak diizinkan.", "Method not allowed."),
    "overloaded": (
        "Server sedang sibuk karena banyaknya pendaftar.",
        "The server is busy: too many applicants at once.",
    ),
    "nik_timeout": (
        "Layanan verifikasi NIK (Dukcapil) sedang sibuk.",
        "The NIK check service (civil registry) is busy.",
    ),
    "internal_error": ("Terjadi kesalahan pada server.", "The server made an error."),
}

# Starlette raises HTTPException with a bare status code; these name the message to show.
STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    500: "internal_error",
}


def text(key: str, lang: str, **values: object) -> str:
    pair = MESSAGES.get(key)
    if pair is None:
        return key
    message = pair[1] if lang == "en" else pair[0]
    return message.format(**values) if values else message


def negotiate(query: Mapping[str, str], accept_language: str | None) -> str:
    wanted = query.get("lang", "").strip().lower()
    if wanted in LANGUAGES:
        return wanted
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for item in (accept_language or "").split(","):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        primary = "id" if primary == "in" else primary  # "in" is the old code for Indonesian
        if primary not in LANGUAGES:
            continue
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                continue
        if q > best_q:
            best, best_q = primary, q
    return best
