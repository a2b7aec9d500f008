"""The waiting room's policy for one event, as one worker runs it.

Joining costs one Redis round trip; a status poll costs none (it compares the ticket with this
worker's cached snapshot); the admission moment costs one; each proxied request of an admitted
user costs one (the session renewal, which also makes a released or replayed pass useless).
"""

from __future__ import annotations

import logging
import math
import random
import uuid
from collections import deque
from dataclasses import dataclass, replace

from waitingroom.clock import Clock, SystemClock
from waitingroom.config import RoomConfig
from waitingroom.errors import StoreError, StoreUnavailable, TokenError
from waitingroom.eta import RateEstimator, estimate, poll_after
from waitingroom.shuffle import Permutation, prequeue_key
from waitingroom.snapshot import RoomSnapshot
from waitingroom.store import Floors, RedisStore
from waitingroom.tokens import Pass, Ticket, TokenSigner, session_id

log = logging.getLogger("waitingroom.room")

# A snapshot older than this (Redis unreachable, or the controller stopped) no longer admits
# anyone: waiting users are told admission is paused and keep their place. Runtimes whose
# controller ticks less often than every second raise it (Room's stale_after).
STALE_AFTER = 3.0
# If Redis comes back without its data, the worker that restores it restarts the tail this many
# seconds of joins (at the rate it measured) past the highest position it saw, plus a minimum:
# other workers may have issued positions in the moment before the loss (invariant 1).
RESTORE_SECONDS = 2.0
RESTORE_MIN = 100


@dataclass(slots=True)
class Status:
    """What a ticket holder is told. Mirrors the status JSON of the public contract."""

    status: str  # waiting | admitted | paused | closed | expired
    event: str
    position: int
    ahead: int
    eta: tuple[int, int] | None
    poll_after: float
    pass_token: str | None = None
    pass_: Pass | None = None
    opens_at: float | None = None
    stale: bool = False

    def as_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "status": self.status,
            "event": self.event,
            "position": self.position,
            "ahead": self.ahead,
            "eta_seconds": list(self.eta) if self.eta is not None else None,
            "poll_after_seconds": self.poll_after,
        }
        if self.pass_token is not None:
            body["pass"] = self.pass_token
        if self.opens_at is not None:
            body["opens_at"] = self.opens_at
        return body

    def as_json_bytes(self, ticket: str | None = None) -> bytes:
        """``as_json`` encoded, without the JSON encoder: it is every status poll's answer.

        Every string in it is safe to write unescaped: the status is one of five words, the event
        matches keys.EVENT_ID, a pass or a ticket (appended as "ticket", as the join answers) is
        itsdangerous's URL-safe output over such characters;
        numbers are written as json writes them (repr). Tested equal to ``json.dumps``.
        """
        eta = "null" if self.eta is None else f"[{self.eta[0]},{self.eta[1]}]"
        text = (
            f'{{"status":"{self.status}","event":"{self.event}","position":{self.position!r},'
            f'"ahead":{self.ahead!r},"eta_seconds":{eta},"poll_after_seconds":{self.poll_after!r}'
        )
        if self.pass_token is not None:
            text += f',"pass":"{self.pass_token}"'
        if self.opens_at is not None:
            text += f',"opens_at":{self.opens_at!r}'
        if ticket is not None:
            text += f',"ticket":"{ticket}"'
        return (text + "}").encode("ascii")


@dataclass(slots=True)
class Joined:
    ticket: Ticket
    token: str
    fresh: bool


class Room:
    """One event's waiting room as seen by one worker."""

    def __init__(
        self,
        store: RedisStore,
        signer: TokenSigner,
        shuffle_secret: str,
        initial_config: RoomConfig,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        stale_after: float = STALE_AFTER,
        restore_seconds: float = RESTORE_SECONDS,
    ) -> None:
        self.store = store
        self.signer = signer
        self.event = signer.event
        self.clock: Clock = clock or SystemClock()
        self.worker_id = uuid.uuid4().hex[:12]
        self.initial_config = initial_config
        self.snapshot: RoomSnapshot | None = None
        self.snapshot_at = 0.0
        self.stale_after = stale_after
        self.restore_seconds = restore_seconds
        self.redis_ok = False
        self.floors = Floors()
        self.rate = RateEstimator()
        self.last_released = 0
        self._shuffle_secret = shuffle_secret
        self._permutation: tuple[tuple[int, int, int, str], Permutation] | None = None
        self._tails: deque[tuple[float, int]] = deque()
        self._rng = rng or random.Random()

    # -- the controller tick -------------------------------------------------------------

    async def ensure_config(self) -> None:
        """Load the scripts and write the initial config unless Redis already has one (another
        worker's, or ours). Runs at startup and when Redis comes back without its data."""
        await self.store.load_scripts()
        config = self.snapshot.config if self.snapshot and self.snapshot.config.version else None
        base = config or self.initial_config
        changes = {k: v for k, v in base.as_dict().items() if k != "version"}
        await self.store.set_config(changes, actor="startup", only_if_missing=True)

    async def tick(self) -> int:
        """Advance the controller once and refresh the cached snapshot. Raises StoreError."""
        hist_from = -1
        if self.snapshot is not None and self.snapshot.history.serving:
            hist_from = self.snapshot.history.last_serving
        try:
            released, snap = await self.store.advance(self.worker_id, self.floors, hist_from)
            if snap.config.version == 0:
                await self.ensure_config()
                released, snap = await self.store.advance(self.worker_id, self.floors, -1)
        except StoreError:
            self.redis_ok = False
            raise
        self._accept(snap)
        self.last_released = released
        return released

    async def refresh(self) -> RoomSnapshot:
        """Read the snapshot without advancing (admin views, tests)."""
        snap = await self.store.snapshot()
        self._accept(snap, replace_history=True)
        return snap

    def _accept(self, snap: RoomSnapshot, replace_history: bool = False) -> None:
        old = self.snapshot
        if old is not None and old.epoch == snap.epoch and snap.server_time < old.server_time:
            # Two ticks of this worker crossed on the wire (the controller's and an admin
            # request's): keep the newer one.
            return
        if old is not None and old.epoch == snap.epoch and not replace_history:
            old.history.merge(list(zip(snap.history.seconds, snap.history.serving, strict=True)))
            snap.history = old.history
        cutoff = int(snap.server_time) - snap.config.grace_period - 120
        snap.history.trim(cutoff)
        self.snapshot = snap
        self.snapshot_at = self.clock.now()
        self.redis_ok = True
        self.rate.observe(snap.server_time, snap.serving, snap.tail)
        margin = self._restore_margin(snap)
        if snap.epoch == self.floors.epoch:
            self.floors = Floors(
                snap.epoch,
                max(self.floors.tail, snap.tail),
                max(self.floors.serving, snap.serving),
                margin,
            )
        elif snap.epoch > self.floors.epoch:
            self.floors = Floors(snap.epoch, snap.tail, snap.serving, margin)

    def _restore_margin(self, snap: RoomSnapshot) -> int:
        """Joins that can happen in restore_seconds at the pace of the last ten seconds."""
        tails = self._tails
        if tails and (snap.tail < tails[-1][1] or snap.server_time < tails[-1][0]):
            tails.clear()  # a reset or a restore: measure afresh
        tails.append((snap.server_time, snap.tail))
        while len(tails) > 2 and tails[1][0] <= snap.server_time - 10.0:
            tails.popleft()
        (t0, n0), (t1, n1) = tails[0], tails[-1]
        pace = (n1 - n0) / (t1 - t0) if t1 - t0 >= 1.0 else 0.0
        return RESTORE_MIN + math.ceil(pace * self.restore_seconds)

    def _observe_ticket(self, ticket: Ticket) -> None:
        # Tickets are the last record of positions issued if Redis lost them (invariant 1).
        if ticket.epoch == self.floors.epoch and ticket.position > self.floors.tail:
            self.floors = replace(self.floors, tail=ticket.position)

    @property
    def stale(self) -> bool:
        """The cached snapshot is too old to admit on: Redis is unreachable, or the controller
        stopped refreshing it (a crashed task or a starved event loop)."""
        return self.clock.now() - self.snapshot_at > self.stale_after

    def server_now(self, snap: RoomSnapshot) -> float:
        """Redis's clock, as of now: the time every worker judges grace and opening by."""
        return snap.server_time + (self.clock.now() - self.snapshot_at)

    # -- applicants ----------------------------------------------------------------------

    def read_ticket(self, token: str | None) -> Ticket | None:
        if not token:
            return None
        try:
            ticket = self.signer.verify_ticket(token)
        except TokenError:
            return None
        self._observe_ticket(ticket)
        return ticket

    async def join(self, existing: str | None = None) -> Joined | None:
        """A place in line: the existing ticket if valid (idempotent), else a new one.

        Returns None when the room is closed. Raises StoreError when Redis is unreachable.
        """
        ticket = self.read_ticket(existing)
        if ticket is not None and existing is not None:
            snap = self.snapshot
            if snap is None or ticket.epoch == snap.epoch:
                return Joined(ticket, existing, fresh=False)
        if not self.redis_ok and self.snapshot is not None:
            # Known to be down: answer at once; the controller's next good tick clears this.
            raise StoreUnavailable("redis unavailable")
        result = await self.store.join(self.floors)
        if result.closed:
            return None
        if result.epoch == self.floors.epoch and result.position > self.floors.tail:
            self.floors = replace(self.floors, tail=result.position)
        ticket, token = self.signer.sign_ticket(result.epoch, result.position)
        return Joined(ticket, token, fresh=True)

    def position_of(self, ticket: Ticket, snap: RoomSnapshot) -> int | None:
        """The ticket's place in line after any pre-queue shuffle; None while it is unknown."""
        lo, hi, raw = snap.prequeue_lo, snap.prequeue_hi, ticket.position
        if lo is None or raw <= lo or (hi is not None and raw > hi):
            return raw
        if hi is None:
            return None
        # The seed stored when the pre-queue began; the configured secret only for a pre-queue
        # started before seeds were stored.
        seed = snap.prequeue_seed or self._shuffle_secret
        cache_key = (ticket.epoch, lo, hi, seed)
        if self._permutation is None or self._permutation[0] != cache_key:
            key = prequeue_key(seed, self.event, ticket.epoch)
            self._permutation = (cache_key, Permutation(key, hi - lo))
        return lo + 1 + self._permutation[1](raw - lo - 1)

    def _status(self, name: str, position: int = 0, ahead: int = 0, **extra: object) -> Status:
        poll = poll_after(None, self._rng) if name != "expired" else 0.0
        status = Status(name, self.event, position, ahead, None, poll)
        for key, value in extra.items():
            setattr(status, key, value)
        return status

    async def status(self, ticket: Ticket, last_eta: tuple[int, int] | None = None) -> Status:
        """Where a ticket stands. No Redis round trip unless its turn has come."""
        snap = self.snapshot
        if snap is None:
            return self._status("paused", stale=True)
        config = snap.config
        if ticket.epoch > snap.epoch:
            # A newer epoch than this worker has seen (a reset a moment ago): its snapshot is
            # behind, the ticket is fine. Never tell its holder to start over.
            return self._status("paused", ticket.position, stale=True)
        if ticket.epoch != snap.epoch:
            return self._status("expired")
        position = self.position_of(ticket, snap)
        if position is None:
            ahead = max(0, snap.tail - (snap.prequeue_lo or 0))
            return self._status("closed", opens_at=config.opens_at, ahead=ahead)
        if config.mode == "closed":
            return self._status("closed", position, opens_at=config.opens_at)
        stale = self.stale
        if position <= snap.serving and not stale:
            return await self._admit(ticket, position, snap)
        ahead = max(0, position - snap.serving - 1)
        before_opening = self._before_opening(config, snap)
        if stale or config.mode == "pause" or before_opening:
            name = "closed" if before_opening else "paused"
            return self._status(name, position, ahead, stale=stale, opens_at=config.opens_at)
        # The configured rate is a floor after the queue ran dry, unless the cap is what limits.
        rate = self.rate.rate(config.rate_per_minute, snap.active < config.max_active)
        eta = estimate(position - snap.serving, rate, last_eta)
        advice = poll_after(eta[0] if eta else None, self._rng)
        return Status("waiting", self.event, position, ahead, eta, advice)

    def _before_opening(self, config: RoomConfig, snap: RoomSnapshot) -> bool:
        return config.opens_at is not None and self.server_now(snap) < config.opens_at

    async def _admit(self, ticket: Ticket, position: int, snap: RoomSnapshot) -> Status:
        released = snap.history.released_at(position)
        grace = snap.config.grace_period + 1
        if released is None:
            # Older than the history we keep: alive only if held by a spell of a full room,
            # which Redis (with the longer history) decides.
            alive = snap.full_since > 0 and self.server_now(snap) - snap.last_full <= grace
        else:
            # The grace period counts from the release; a turn within it when the room's
            # current spell of being full began is on hold until the spell ends (as admit.lua).
            since = float(released)
            if snap.full_since > 0 and since + grace >= snap.full_since:
                since = max(since, snap.last_full)
            alive = self.server_now(snap) - since <= grace
        if not alive:
            return self._status("expired", position)
        session = session_id(ticket.epoch, position)
        try:
            result = await self.store.admit(ticket.epoch, position, session)
        except StoreError:
            return self._status("paused", position, stale=True)
        if result.status == "ok":
            lifetime = max(1.0, result.expires_ms / 1000 - snap.server_time)
            wr_pass, token = self.signer.sign_pass(session, position, lifetime)
            return Status("admitted", self.event, position, 0, (0, 0), 0.0, token, wr_pass)
        if result.status in ("full", "wait"):
            return Status("waiting", self.event, position, 0, (0, 0), poll_after(0, self._rng))
        if result.status == "closed":
            return self._status("closed", position)
        return self._status("expired", position)

    def snapshot_mode(self) -> str:
        return self.snapshot.config.mode if self.snapshot is not None else "queue"

    def session_lifetime(self) -> int:
        config = self.snapshot.config if self.snapshot is not None else self.initial_config
        return config.session_lifetime

    def closed_status(self) -> Status:
        opens_at = self.snapshot.config.opens_at if self.snapshot is not None else None
        return self._status("closed", opens_at=opens_at)

    # -- admitted users ------------------------------------------------------------------

    def read_pass(self, token: str | None) -> Pass | None:
        if not token:
            return None
        try:
            return self.signer.verify_pass(token)
        except TokenError:
            return None

    async def renew(self, wr_pass: Pass) -> tuple[bool, str | None]:
        """Is this pass's session still live? Returns (valid, a re-signed pass when due).

        When Redis is unreachable a validly signed, unexpired pass keeps working (invariant 5).
        """
        if not wr_pass.session.startswith(f"{self.snapshot.epoch}-" if self.snapshot else ""):
            return False, None
        if not self.redis_ok:
            # Known to be down (the controller's last tick failed): don't wait on a timeout.
            return True, None
        try:
            expires_ms = await self.store.renew(wr_pass.session)
        except StoreError:
            return True, None
        if expires_ms == 0:
            return False, None
        lifetime = self.snapshot.config.session_lifetime if self.snapshot else 600
        if wr_pass.expires_at - self.clock.now() < lifetime / 2:
            _, token = self.signer.sign_pass(wr_pass.session, wr_pass.position, lifetime)
            return True, token
        return True, None

    async def release(self, wr_pass: Pass) -> bool:
        try:
            return await self.store.release(wr_pass.session)
        except StoreError:
            log.warning("release of a session failed: redis unavailable")
            return False
