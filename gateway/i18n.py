"""The waiting page's words, in Bahasa Indonesia (the default) and English."""

from __future__ import annotations

LANGUAGES = ("id", "en")

TEXT: dict[str, dict[str, str]] = {
    "id": {
        "lang_name": "Bahasa Indonesia",
        "other_lang": "English",
        "title_waiting": "Anda dalam antrean",
        "title_paused": "Antrean dijeda sementara",
        "title_closed": "Pendaftaran belum dibuka",
        "title_expired": "Giliran Anda sudah lewat",
        "title_admitted": "Giliran Anda!",
        "title_error": "Maaf, ada gangguan",
        "intro": "Situs sedang ramai. Kami menjaga agar pendaftaran tetap lancar dengan "
        "mempersilakan masuk sesuai urutan kedatangan.",
        "position": "Nomor antrean Anda",
        "ahead": "Orang di depan Anda",
        "eta": "Perkiraan waktu tunggu",
        "eta_unknown": "belum dapat diperkirakan",
        "minutes": "menit",
        "seconds": "detik",
        "to": "sampai",
        "updated": "Diperbarui pukul",
        "auto": "Halaman ini diperbarui otomatis. Saat tiba giliran Anda, Anda langsung masuk.",
        "do": "Biarkan halaman ini terbuka. Anda boleh mengunci layar ponsel.",
        "dont": "Jangan membuka tab baru atau memuat ulang berkali-kali: itu tidak mempercepat "
        "giliran Anda.",
        "paused": "Penerimaan dijeda sebentar. Tempat Anda dalam antrean tetap aman.",
        "closed": "Pendaftaran belum dibuka. Anda sudah tercatat dalam pra-antrean; saat "
        "pendaftaran dibuka, urutan pra-antrean diundi secara adil.",
        "closed_no_place": "Pendaftaran sedang ditutup. Silakan kembali nanti.",
        "opens_at": "Dibuka pada",
        "expired": "Giliran Anda sudah lewat terlalu lama. Silakan antre kembali.",
        "rejoin": "Antre kembali",
        "refresh": "Perbarui sekarang",
        "error_busy": "Layanan sedang sibuk. Silakan coba lagi sebentar lagi.",
        "error_backend": "Layanan pendaftaran sedang tidak dapat dihubungi. Tempat Anda aman; "
        "silakan coba lagi sebentar lagi.",
        "error_bad_request": "Permintaan tidak valid.",
        "error_not_found": "Halaman tidak ditemukan.",
        "retry": "Coba lagi",
    },
    "en": {
        "lang_name": "English",
        "other_lang": "Bahasa Indonesia",
        "title_waiting": "You are in line",
        "title_paused": "The line is paused for a moment",
        "title_closed": "Registration has not opened yet",
        "title_expired": "Your turn has passed",
        "title_admitted": "It's your turn!",
        "title_error": "Sorry, something went wrong",
        "intro": "The site is busy. To keep registration working for everyone, we let people "
        "in in the order they arrived.",
        "position": "Your place in line",
        "ahead": "People ahead of you",
        "eta": "Estimated wait",
        "eta_unknown": "not known yet",
        "minutes": "min",
        "seconds": "s",
        "to": "to",
        "updated": "Updated at",
        "auto": "This page updates by itself. When it is your turn you go straight in.",
        "do": "Keep this page open. You may lock your phone's screen.",
        "dont": "Do not open more tabs or keep reloading: it will not help you get in sooner.",
        "paused": "Admission is paused for a moment. You keep your place in line.",
        "closed": "Registration has not opened yet. You are in the pre-queue; when it opens, "
        "the order of the pre-queue is drawn fairly.",
        "closed_no_place": "Registration is closed. Please come back later.",
        "opens_at": "Opens at",
        "expired": "Your turn passed too long ago. Please join the line again.",
        "rejoin": "Join the line again",
        "refresh": "Refresh now",
        "error_busy": "The service is busy. Please try again in a moment.",
        "error_backend": "The registration service cannot be reached right now. Your place is "
        "safe; please try again in a moment.",
        "error_bad_request": "Invalid request.",
        "error_not_found": "Page not found.",
        "retry": "Try again",
    },
}


def choose_language(query_lang: str | None, cookie_lang: str | None, accept: str | None) -> str:
    """?lang= first, then the remembered choice, then Accept-Language; Indonesian by default."""
    for choice in (query_lang, cookie_lang):
        if choice in LANGUAGES:
            return choice
    if accept:
        best, best_q = "id", -1.0
        for part in accept.split(",")[:20]:
            tag, _, params = part.strip().partition(";")
            primary = tag.strip().lower()[:2]
            q = 1.0
            if params.strip().startswith("q="):
                try:
                    q = float(params.strip()[2:])
                except ValueError:
                    q = 0.0
            if primary in LANGUAGES and q > best_q:
                best, best_q = primary, q
        return best
    return "id"
