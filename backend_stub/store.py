"""Accounts, kept in memory only: registrations do not survive a restart of the stub.

One store per app instance. Every method is synchronous, so each runs without interruption on
the event loop: a uniqueness check and the write that follows it cannot interleave with another
request's (no await in between), which is all the locking an in-memory store needs.

Passwords are stored salted and hashed with a deliberately cheap PBKDF2 (the stub's own CPU
should not become the bottleneck the capacity knobs are meant to model). Photos are not kept:
only their size and type.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import date

from backend_stub.errors import ApiError
from backend_stub.validation import Registration

_PBKDF2_ROUNDS = 1_000


@dataclass(slots=True)
class Photo:
    content_type: str
    size: int


@dataclass(slots=True)
class Account:
    id: str
    name: str
    email: str
    password_hash: bytes = field(repr=False)
    salt: bytes = field(repr=False)
    token: str = field(repr=False)  # the account's secret: proves who is calling
    email_token: str = field(repr=False)  # the link in the verification e-mail
    email_verified: bool = False
    nik: str | None = field(default=None, repr=False)
    kk: str | None = field(default=None, repr=False)
    born: date | None = field(default=None, repr=False)
    photo: Photo | None = None
    batch: str | None = None


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _PBKDF2_ROUNDS)


class Store:
    def __init__(self) -> None:
        self._by_id: dict[str, Account] = {}
        self._by_email: dict[str, Account] = {}
        self._by_email_token: dict[str, Account] = {}
        self._by_nik: dict[str, Account] = {}

    def clear(self) -> None:
        for index in (self._by_id, self._by_email, self._by_email_token, self._by_nik):
            index.clear()

    def __len__(self) -> int:
        return len(self._by_id)

    def register(self, reg: Registration) -> Account:
        if reg.email in self._by_email:
            raise ApiError(409, "email_taken", {"email": "email_taken"})
        salt = secrets.token_bytes(16)
        account = Account(
            id=secrets.token_hex(8),
            name=reg.name,
            email=reg.email,
            password_hash=_hash(reg.password, salt),
            salt=salt,
            token=secrets.token_urlsafe(24),
            email_token=secrets.token_urlsafe(24),
        )
        self._by_id[account.id] = account
        self._by_email[account.email] = account
        self._by_email_token[account.email_token] = account
        return account

    def authenticate(self, account_id: str, token: str) -> Account | None:
        account = self._by_id.get(account_id)
        if account is None or not hmac.compare_digest(account.token, token):
            return None
        return account

    def verify_email(self, email_token: str) -> Account | None:
        account = self._by_email_token.get(email_token)
        if account is not None:
            account.email_verified = True
        return account

    def nik_owner(self, nik: str) -> Account | None:
        return self._by_nik.get(nik)

    def attach_nik(self, account: Account, nik: str, kk: str, born: date) -> None:
        owner = self._by_nik.get(nik)
        if owner is not None and owner is not account:
            raise ApiError(409, "nik_taken", {"nik": "nik_taken"})
        if account.nik is not None and account.nik != nik:
            raise ApiError(409, "nik_already_set")
        account.nik, account.kk, account.born = nik, kk, born
        self._by_nik[nik] = account

    def funnel(self) -> dict[str, int]:
        """How many accounts reached each step: the figures the April 2020 statement gave."""
        accounts = self._by_id.values()
        return {
            "registered": len(self._by_id),
            "email_verified": sum(a.email_verified for a in accounts),
            "nik_verified": sum(a.nik is not None for a in accounts),
            "photo_uploaded": sum(a.photo is not None for a in accounts),
            "joined_batch": sum(a.batch is not None for a in accounts),
        }
