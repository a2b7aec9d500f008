"""Fair shuffle of the pre-queue at opening, with no per-user state.

Everyone who arrives before ``opens_at`` holds a raw arrival number in the pre-queue range
``(lo, hi]``. At opening, each raw number is mapped through a keyed permutation of that range
(a four-round Feistel network with cycle walking), so the order among early arrivals is random
but fixed, identical on every worker, and different for every event: hammering refresh at
00:00:00 gains nothing.
"""

from __future__ import annotations

import hashlib
import hmac

ROUNDS = 4


class Permutation:
    """A keyed bijection of ``range(size)``."""

    def __init__(self, key: bytes, size: int) -> None:
        if size < 1:
            raise ValueError("size must be positive")
        self.size = size
        bits = max(2, (size - 1).bit_length())
        self._half = (bits + 1) // 2
        self._mask = (1 << self._half) - 1
        self._keys = [hmac.new(key, bytes([r]), hashlib.sha256).digest() for r in range(ROUNDS)]

    def _round(self, r: int, value: int) -> int:
        digest = hmac.new(self._keys[r], value.to_bytes(8, "big"), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big") & self._mask

    def _encrypt(self, x: int) -> int:
        left, right = x >> self._half, x & self._mask
        for r in range(ROUNDS):
            left, right = right, left ^ self._round(r, right)
        return (left << self._half) | right

    def __call__(self, index: int) -> int:
        if not 0 <= index < self.size:
            raise ValueError("index out of range")
        # Cycle walking: the Feistel domain is at most 4x the size, so this ends quickly.
        value = self._encrypt(index)
        while value >= self.size:
            value = self._encrypt(value)
        return value


def prequeue_key(secret: str, event: str, epoch: int) -> bytes:
    return hmac.new(secret.encode(), f"prequeue:{event}:{epoch}".encode(), hashlib.sha256).digest()


def effective_position(raw: int, lo: int, hi: int | None, key: bytes) -> int | None:
    """Where a raw arrival number stands in line; None while its pre-queue is still open."""
    if raw <= lo:
        return raw
    if hi is None:
        return None
    if raw > hi:
        return raw
    return lo + 1 + Permutation(key, hi - lo)(raw - lo - 1)
