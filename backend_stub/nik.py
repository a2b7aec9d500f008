"""Validation of the NIK step: NIK, family-card (KK) number and date of birth.

A NIK (Nomor Induk Kependudukan) has 16 digits::

    PP RR DD  ddmmyy  SSSS
    |  |  |   |       serial number, 0001..9999
    |  |  |   date of birth; women have 40 added to the day (a woman born on the 5th: 45)
    |  |  district (kecamatan)
    |  regency or city (kabupaten/kota)
    province, 11 (Aceh) .. 94 (Papua)

The checks are the ones a registration backend can make without the civil registry: digits
only, exact length, a plausible province code, a real date inside the NIK, and that date agreeing
with the date of birth the applicant typed. Errors are message codes, one per field.

``make_nik()`` builds a NIK that passes, for tests and load tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

NIK_LENGTH = 16
KK_LENGTH = 16
PROVINCE_MIN = 11
PROVINCE_MAX = 94
FEMALE_DAY_OFFSET = 40

_DIGITS = re.compile(r"[0-9]+")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, slots=True)
class NikInfo:
    province_code: int
    birth_day: int
    birth_month: int
    birth_year_2: int  # the last two digits of the year: the NIK does not say which century
    female: bool

    def matches(self, born: date) -> bool:
        return (self.birth_day, self.birth_month, self.birth_year_2) == (
            born.day,
            born.month,
            born.year % 100,
        )


@dataclass(frozen=True, slots=True)
class NikCheck:
    """The outcome of ``check_nik_form``: errors by field, or the parsed values."""

    errors: dict[str, str]
    nik: str = ""
    kk: str = ""
    born: date | None = None
    info: NikInfo | None = None


def check_digits(value: str, length: int, prefix: str) -> str | None:
    if not _DIGITS.fullmatch(value):
        return f"{prefix}_not_digits"
    if len(value) != length:
        return f"{prefix}_length"
    return None


def parse_nik(nik: str) -> NikInfo | str:
    """The NIK's parts, or the message code of the first thing wrong with it."""
    error = check_digits(nik, NIK_LENGTH, "nik")
    if error:
        return error
    province = int(nik[0:2])
    if not PROVINCE_MIN <= province <= PROVINCE_MAX:
        return "nik_province"
    day, month, year_2 = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    female = day > FEMALE_DAY_OFFSET
    if female:
        day -= FEMALE_DAY_OFFSET
    # 2000 is a leap year, so 29 February is accepted for any two-digit year ending in a
    # multiple of four, as it should be (00 is ambiguous but can be a leap year).
    try:
        date(2000 + year_2, month, day)
    except ValueError:
        return "nik_birth_date"
    return NikInfo(province, day, month, year_2, female)


def parse_birth_date(value: str, today: date) -> date | str:
    if not _ISO_DATE.fullmatch(value):
        return "dob_format"
    try:
        born = date.fromisoformat(value)
    except ValueError:
        return "dob_format"
    if born > today:
        return "dob_future"
    if born.year < 1900:
        return "dob_too_old"
    return born


def check_nik_form(fields: dict[str, object], today: date) -> NikCheck:
    """Validate ``nik``, ``kk`` and ``date_of_birth`` together; collect every field's error."""
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    for name in ("nik", "kk", "date_of_birth"):
        raw = fields.get(name)
        if raw is None or raw == "":
            errors[name] = "required"
        elif not isinstance(raw, str):
            errors[name] = "not_a_string"
        else:
            values[name] = raw.strip()

    info: NikInfo | None = None
    if "nik" in values:
        parsed = parse_nik(values["nik"])
        if isinstance(parsed, str):
            errors["nik"] = parsed
        else:
            info = parsed
    if "kk" in values:
        kk_error = check_digits(values["kk"], KK_LENGTH, "kk")
        if kk_error:
            errors["kk"] = kk_error
    born: date | None = None
    if "date_of_birth" in values:
        parsed_born = parse_birth_date(values["date_of_birth"], today)
        if isinstance(parsed_born, str):
            errors["date_of_birth"] = parsed_born
        else:
            born = parsed_born
    if info is not None and born is not None and not info.matches(born):
        errors["nik"] = "nik_dob_mismatch"
    if errors:
        return NikCheck(errors)
    return NikCheck({}, values["nik"], values["kk"], born, info)


def make_nik(
    born: date,
    *,
    female: bool = False,
    province: int = 32,
    regency: int = 1,
    district: int = 1,
    serial: int = 1,
) -> str:
    """A NIK that passes ``parse_nik`` and matches ``born``. Serial 1..9999."""
    day = born.day + (FEMALE_DAY_OFFSET if female else 0)
    return (
        f"{province:02d}{regency:02d}{district:02d}"
        f"{day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"
    )


def mask(nik: str) -> str:
    """Show only the region and the serial: a NIK is personal data."""
    return nik[:4] + "*" * (len(nik) - 8) + nik[-4:] if len(nik) > 8 else "*" * len(nik)
