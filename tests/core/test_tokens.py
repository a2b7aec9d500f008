"""Invariant 2: a forged, tampered, expired or wrong-purpose token never admits anyone."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waitingroom.clock import ManualClock
from waitingroom.errors import BadToken, ExpiredToken, TokenError
from waitingroom.tokens import TICKET_MAX_AGE, TokenSigner

KEYS = ["current-key", "previous-key"]
CLOCK = ManualClock()
SIGNER = TokenSigner(KEYS, "prakerja", CLOCK)
_, TICKET = SIGNER.sign_ticket(1700000000000, 42)
_, PASS = SIGNER.sign_pass("1700000000000-42", 42, 600)


def test_round_trip() -> None:
    ticket = SIGNER.verify_ticket(TICKET)
    assert (ticket.event, ticket.epoch, ticket.position) == ("prakerja", 1700000000000, 42)
    wr_pass = SIGNER.verify_pass(PASS)
    assert (wr_pass.session, wr_pass.position) == ("1700000000000-42", 42)


def test_a_ticket_is_never_a_pass_nor_the_reverse() -> None:
    with pytest.raises(BadToken):
        SIGNER.verify_pass(TICKET)
    with pytest.raises(BadToken):
        SIGNER.verify_ticket(PASS)


def test_key_rotation_keeps_old_tokens_valid_and_signs_with_the_newest() -> None:
    old = TokenSigner(["previous-key"], "prakerja", CLOCK)
    _, token = old.sign_ticket(1, 7)
    assert SIGNER.verify_ticket(token).position == 7
    _, new_token = SIGNER.sign_ticket(1, 8)
    with pytest.raises(BadToken):
        old.verify_ticket(new_token)  # signed with the newest key, unknown to the old signer
    with pytest.raises(BadToken):
        TokenSigner(["another"], "prakerja", CLOCK).verify_ticket(token)


def test_other_event_and_expiry() -> None:
    other = TokenSigner(KEYS, "another-event", CLOCK)
    with pytest.raises(BadToken):
        other.verify_ticket(TICKET)
    clock = ManualClock()
    signer = TokenSigner(KEYS, "prakerja", clock)
    _, short_pass = signer.sign_pass("1-1", 1, 60)
    _, ticket = signer.sign_ticket(1, 1)
    clock.advance(61)
    with pytest.raises(ExpiredToken):
        signer.verify_pass(short_pass)
    clock.advance(TICKET_MAX_AGE)
    with pytest.raises(ExpiredToken):
        signer.verify_ticket(ticket)


def _tamper_payload(token: str, field: int, value: str) -> str:
    parts = token.split(".")
    parts[field] = value
    return ".".join(parts)


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_altered_tokens_never_verify(data: st.DataObject) -> None:
    token = data.draw(st.sampled_from([TICKET, PASS]))
    kind = data.draw(st.sampled_from(["flip", "payload", "signature", "truncate", "splice"]))
    if kind == "flip":
        i = data.draw(st.integers(0, len(token) - 1))
        replacement = data.draw(st.characters(min_codepoint=33, max_codepoint=126))
        if replacement == token[i]:
            return
        altered = token[:i] + replacement + token[i + 1 :]
    elif kind == "payload":
        field = data.draw(st.integers(0, 3))
        altered = _tamper_payload(token, field, str(data.draw(st.integers(0, 10**15))))
        if altered == token:
            return
    elif kind == "signature":
        raw = data.draw(st.binary(min_size=1, max_size=40))
        altered = _tamper_payload(token, 4, base64.urlsafe_b64encode(raw).decode().rstrip("="))
    elif kind == "truncate":
        altered = token[: data.draw(st.integers(0, len(token) - 1))]
    else:  # a payload of one token with the signature of the other
        other = PASS if token == TICKET else TICKET
        altered = ".".join(token.split(".")[:4] + other.split(".")[4:])
    with pytest.raises(TokenError):
        SIGNER.verify_ticket(altered)
    with pytest.raises(TokenError):
        SIGNER.verify_pass(altered)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=600))
def test_junk_never_verifies(junk: str) -> None:
    with pytest.raises(TokenError):
        SIGNER.verify_ticket(junk)
    with pytest.raises(TokenError):
        SIGNER.verify_pass(junk)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["pass", "ticket", "itsdangerous", "", "admin-session"]))
def test_other_salts_never_verify(salt: str) -> None:
    from itsdangerous import Signer

    forged = Signer("current-key", salt=salt).sign("prakerja.1700000000000.1.1700000000").decode()
    if salt != "ticket":
        with pytest.raises(TokenError):
            SIGNER.verify_ticket(forged)
    if salt != "pass":
        with pytest.raises(TokenError):
            SIGNER.verify_pass(forged)


def test_signatures_are_not_malleable() -> None:
    # Base64's padding bits: the last character has 4 spellings for the same bytes.
    last = TICKET[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = alphabet.index(last)
    for sibling in alphabet[index - index % 4 : index - index % 4 + 4]:
        altered = TICKET[:-1] + sibling
        if altered == TICKET:
            assert SIGNER.verify_ticket(altered)
        else:
            with pytest.raises(BadToken):
                SIGNER.verify_ticket(altered)


@given(
    value=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.", min_size=1, max_size=80),
    keys=st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=3),
    salt=st.sampled_from(["ticket", "pass"]),
)
@settings(max_examples=300)
def test_fast_verification_agrees_with_itsdangerous(value: str, keys: list[str], salt: str) -> None:
    import hashlib

    from itsdangerous import BadSignature, Signer

    from waitingroom.tokens import _signer

    ours = _signer(keys, salt)
    for key in keys:  # a token of every key in the rotation, signed by plain itsdangerous
        reference = Signer(key, salt=salt, key_derivation="hmac", digest_method=hashlib.sha256)
        token = reference.sign(value).decode()
        if key == keys[0]:  # the newest key signs: byte for byte what itsdangerous writes
            assert ours.sign(value).decode() == token
        assert ours.verified_value(token) == value
        assert ours.unsign(token).decode() == value
        forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BA")
        assert ours.verified_value(forged) is None
        with pytest.raises(BadSignature):
            ours.unsign(forged)
    stranger = Signer(
        "not-" + keys[0], salt=salt, key_derivation="hmac", digest_method=hashlib.sha256
    )
    assert ours.verified_value(stranger.sign(value).decode()) is None


@given(
    status=st.sampled_from(["waiting", "admitted", "paused", "closed", "expired"]),
    event=st.from_regex(r"[a-z0-9][a-z0-9_-]{0,63}", fullmatch=True),
    position=st.integers(0, 10**15),
    ahead=st.integers(0, 10**15),
    eta=st.none() | st.tuples(st.integers(0, 10**9), st.integers(0, 10**9)),
    poll=st.floats(0, 60, allow_nan=False) | st.sampled_from([0.0, 2.0, 27.96, 60.0]),
    with_pass=st.booleans(),
    opens_at=st.none() | st.floats(0, 4e9, allow_nan=False) | st.integers(0, 4 * 10**9),
)
def test_status_json_bytes_are_what_the_json_encoder_writes(
    status: str,
    event: str,
    position: int,
    ahead: int,
    eta: tuple[int, int] | None,
    poll: float,
    with_pass: bool,
    opens_at: float | None,
) -> None:
    import json

    from waitingroom.room import Status

    token = None
    if with_pass:
        _, token = TokenSigner(["k"], event).sign_pass(f"{position}-{ahead}", position, 600)
    answer = Status(status, event, position, ahead, eta, poll, token, None, opens_at)
    encoded = json.dumps(answer.as_json(), separators=(",", ":"), allow_nan=False)
    assert answer.as_json_bytes() == encoded.encode()
    _, ticket = TokenSigner(["k"], event).sign_ticket(position + 1, position + 1)
    joined = json.dumps({**answer.as_json(), "ticket": ticket}, separators=(",", ":"))
    assert answer.as_json_bytes(ticket) == joined.encode()
