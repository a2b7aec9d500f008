"""Tickets and passes: compact, signed, stateless tokens (itsdangerous).

A *ticket* proves a place in line: ``event.epoch.position.issued``, signed with salt "ticket".
A *pass* proves an admission: ``event.session.position.expires``, signed with salt "pass".
The salts make the two purposes disjoint: a ticket never verifies as a pass, nor the reverse.

``secret_keys`` is newest first (as in ``WR_SECRET_KEYS``): the newest key signs, every key
verifies, so keys rotate without logging anyone out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from itsdangerous import Signer
from itsdangerous.encoding import base64_encode, want_bytes

from waitingroom.clock import Clock, SystemClock
from waitingroom.errors import BadToken, ExpiredToken
from waitingroom.keys import EVENT_ID

TICKET_SALT = "ticket"
PASS_SALT = "pass"  # noqa: S105 - a salt, not a secret
# A ticket older than this is refused outright; the late-returner policy decides well before.
TICKET_MAX_AGE = 7 * 24 * 3600
_MAX_TOKEN_LENGTH = 512
# A SHA-256 signature is 43 base64 characters; the last one carries 4 bits and 2 zero bits.
# Python's decoder ignores those 2 bits, so without this check 4 spellings of one signature would
# verify: we accept only the canonical one (a token is never malleable).
_SIGNATURE_LENGTH = 43
_CANONICAL_LAST = frozenset("AEIMQUYcgkosw048")
# A number in a payload: ASCII digits only, bounded (str.isdigit() would take "²" or "١٢",
# which int() refuses; int() alone would take "+1", " 1" or "1_000").
_NUMBER = re.compile(r"[0-9]{1,18}")


class Ticket(NamedTuple):
    """Immutable like the Pass; a tuple because one is made on every status poll."""

    event: str
    epoch: int
    position: int
    issued_at: int


@dataclass(frozen=True, slots=True)
class Pass:
    event: str
    session: str
    position: int
    expires_at: int


class _Signer(Signer):
    """itsdangerous's Signer with its keys derived (an HMAC of the salt) and keyed into HMAC
    objects once, copied per use, and a verification for the one format we use (HMAC-SHA256,
    canonical base64) in a few C calls: it runs on every status poll, where itsdangerous's
    general path cost more than the rest of the poll's own work (bench/profile.py)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Newest first: the key that signed most tokens is tried first.
        self._macs = [
            hmac.new(self.derive_key(k), digestmod=hashlib.sha256)
            for k in reversed(self.secret_keys)
        ]

    def get_signature(self, value: str | bytes) -> bytes:
        """As itsdangerous computes it (the newest key), from the keyed HMAC: every join signs."""
        mac = self._macs[0].copy()
        mac.update(want_bytes(value))
        return base64_encode(mac.digest())

    def verified_value(self, token: str) -> str | None:
        """The signed value of ``token`` ("value.signature"), or None if no key signed it.

        Equivalent to ``unsign`` for canonical signatures (others are refused here): the same
        derived keys, HMAC-SHA256 over the value, compared in constant time.
        """
        value, sep, signature = token.rpartition(".")
        if not sep or len(signature) != _SIGNATURE_LENGTH or signature[-1] not in _CANONICAL_LAST:
            return None
        raw = value.encode("ascii")
        given = signature.encode("ascii")
        for keyed in self._macs:
            mac = keyed.copy()
            mac.update(raw)
            if hmac.compare_digest(base64.urlsafe_b64encode(mac.digest())[:-1], given):
                return value
        return None


def _signer(secret_keys: Sequence[str], salt: str) -> _Signer:
    if not secret_keys or any(not k for k in secret_keys):
        raise ValueError("at least one non-empty secret key is required")
    # itsdangerous signs with the *last* key of the list and verifies with all of them.
    return _Signer(
        list(reversed(secret_keys)),
        salt=salt,
        key_derivation="hmac",
        digest_method=hashlib.sha256,
    )


def _parse_int(text: str) -> int:
    if _NUMBER.fullmatch(text) is None:
        raise BadToken("malformed token")
    return int(text)


class TokenSigner:
    """Signs and verifies tickets and passes for one event."""

    def __init__(self, secret_keys: Sequence[str], event: str, clock: Clock | None = None) -> None:
        self._tickets = _signer(secret_keys, TICKET_SALT)
        self._passes = _signer(secret_keys, PASS_SALT)
        self.event = event
        self.clock: Clock = clock or SystemClock()
        self._ticket_payload = re.compile(
            re.escape(event) + r"\.([0-9]{1,18})\.([0-9]{1,18})\.([0-9]{1,18})"
        )

    def _verified(self, signer: _Signer, token: str) -> str:
        if not token or len(token) > _MAX_TOKEN_LENGTH or not token.isascii():
            raise BadToken("malformed token")
        payload = signer.verified_value(token)
        if payload is None:
            raise BadToken("bad or non-canonical signature")
        return payload

    def _unsign(self, signer: _Signer, token: str) -> list[str]:
        parts = self._verified(signer, token).split(".")
        if len(parts) != 4 or parts[0] != self.event:
            raise BadToken("token is for another event")
        return parts

    def sign_ticket(self, epoch: int, position: int) -> tuple[Ticket, str]:
        ticket = Ticket(self.event, epoch, position, int(self.clock.now()))
        payload = f"{ticket.event}.{epoch}.{position}.{ticket.issued_at}"
        return ticket, self._tickets.sign(payload).decode("ascii")

    def verify_ticket(self, token: str) -> Ticket:
        # One match checks the event and the three numbers (ASCII digits, bounded) at once.
        fields = self._ticket_payload.fullmatch(self._verified(self._tickets, token))
        if fields is None:
            raise BadToken("malformed token or another event's")
        epoch, position, issued = fields.groups()
        ticket = Ticket(self.event, int(epoch), int(position), int(issued))
        age = self.clock.now() - ticket.issued_at
        if age > TICKET_MAX_AGE:
            raise ExpiredToken("ticket expired")
        if ticket.position < 1:
            raise BadToken("malformed token")
        return ticket

    def sign_pass(self, session: str, position: int, lifetime: float) -> tuple[Pass, str]:
        if not EVENT_ID.match(session.replace(":", "-")):
            raise ValueError("invalid session id")
        wr_pass = Pass(self.event, session, position, int(self.clock.now() + lifetime))
        payload = f"{wr_pass.event}.{session}.{position}.{wr_pass.expires_at}"
        return wr_pass, self._passes.sign(payload).decode("ascii")

    def verify_pass(self, token: str) -> Pass:
        parts = self._unsign(self._passes, token)
        wr_pass = Pass(parts[0], parts[1], _parse_int(parts[2]), _parse_int(parts[3]))
        if wr_pass.expires_at < self.clock.now():
            raise ExpiredToken("pass expired")
        return wr_pass


def session_id(epoch: int, position: int) -> str:
    """The session a ticket redeems into: one ticket can hold at most one session."""
    return f"{epoch}-{position}"
