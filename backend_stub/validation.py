"""Validation of the registration form: name, e-mail, password. Errors are message codes."""

from __future__ import annotations

import re
from dataclasses import dataclass

NAME_MAX = 100
PASSWORD_MIN = 8
PASSWORD_MAX = 128  # bounds the hashing work a request can ask for
EMAIL_MAX = 254

# Deliberately plain: one @, no spaces, a dot in the domain, labels of letters, digits, hyphens.
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


@dataclass(frozen=True, slots=True)
class Registration:
    name: str
    email: str  # lower-cased: e-mail addresses are compared case-insensitively
    password: str


def text_field(fields: dict[str, object], name: str, errors: dict[str, str]) -> str | None:
    """The field's string value, or None after recording why there is none."""
    raw = fields.get(name)
    if raw is None or raw == "":
        errors[name] = "required"
        return None
    if not isinstance(raw, str):
        errors[name] = "not_a_string"
        return None
    return raw


def check_registration(fields: dict[str, object]) -> Registration | dict[str, str]:
    errors: dict[str, str] = {}
    name = text_field(fields, "name", errors)
    if name is not None:
        name = " ".join(name.split())
        if not name:
            errors["name"] = "required"
        elif len(name) > NAME_MAX:
            errors["name"] = "name_too_long"
    email = text_field(fields, "email", errors)
    if email is not None:
        email = email.strip().lower()
        if len(email) > EMAIL_MAX or not _EMAIL.fullmatch(email) or ".." in email:
            errors["email"] = "email_invalid"
    password = text_field(fields, "password", errors)
    if password is not None:
        if len(password) < PASSWORD_MIN:
            errors["password"] = "password_too_short"  # noqa: S105 (a message code)
        elif len(password) > PASSWORD_MAX:
            errors["password"] = "password_too_long"  # noqa: S105 (a message code)
    if errors or name is None or email is None or password is None:
        return errors
    return Registration(name, email, password)
