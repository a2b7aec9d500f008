"""The simulated people. Each Locust user is one person: it arrives once, does what that person
does, and stops itself (``StopUser``); new arrivals are new users (see ``loadtest.node``).

``Applicant``: opens the site as a browser does (``GET /`` as HTML: the waiting page and the
``wr_ticket`` cookie), polls ``/_wr/status`` as the page's script does, exactly when the server
advises (``poll_after_seconds``, never sooner; twice that after an error), reloads the page once
admitted (the ``wr_pass`` cookie is set), and walks the registration funnel with HTML forms to
the depth its plan says (``loadtest.funnel``). The batch step ends the session (the backend's
``X-WR-Command: release``); whoever stops earlier says goodbye with ``POST /_wr/leave``. An
*abandoner* walks away from the queue after a poll or two and never comes back (a no-show).

``Attacker``: tries one trick, then goes: a forged ticket, a tampered ticket (its own real one
with the position or the signature changed), a ticket used as a pass, a replayed pass (captured
from an applicant whose session has ended), or hammering ``POST /_wr/join``. Every answer is
checked: reaching the backend (no ``x-wr-status`` and a backend page) or being told "admitted"
is a bypass, a 5xx a server error; both are marked as failures in Locust's statistics.
"""

from __future__ import annotations

import base64
import os
import random
import re
import time
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import gevent
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser, ResponseContextManager
from locust.exception import StopUser

from loadtest.records import OPEN_STATES, Record

if TYPE_CHECKING:
    from loadtest.node import Node, Plan

PREFIX = "/_wr"
BROWSER = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "id-ID,id;q=0.9,en;q=0.8",
}
JSON = {"Accept": "application/json", "Accept-Language": "id-ID,id;q=0.9"}
FORM = {**BROWSER, "Content-Type": "application/x-www-form-urlencoded"}
# The page's script: `var poll = 12.34` is when it first polls.
_POLL = re.compile(rb"var poll = ([0-9.]+)")
# What only the backend stub answers: its HTML header, or its JSON fields.
_BACKEND_MARKERS = (b'class="brand"', b'"fields"', b'"service"', b'"message"', b'"account_token"')
_BORN = date(1990, 5, 17)
_KK = "3201012345678901"
# A real 1x1 PNG (the photo step sniffs the magic bytes).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4//8/AAX+Av4N70a4AAAAAElFTkSuQmCC"
)
MAX_POLL_AFTER_ERROR = 60.0
# Sent as X-WR-Ticket with pass attacks: an invalid ticket stops the gateway from handing out a
# new place (a JSON client without a ticket joins the queue) and from admitting the attacker's
# own ticket when its turn comes, so any backend answer really is a bypass.
NO_TICKET = "-"


def nik_for(k: int, run: int) -> str:
    """A valid NIK, unique per arrival (and varied per run): 94 x 99 x 99 x 9999 of them."""
    from backend_stub.nik import make_nik

    n = k + run * 7919
    return make_nik(
        _BORN,
        province=11 + (n // (9999 * 99 * 99)) % 84,
        regency=1 + (n // (9999 * 99)) % 99,
        district=1 + (n // 9999) % 99,
        serial=1 + n % 9999,
    )


def ticket_position(token: str) -> int | None:
    """The position inside a ticket (``event.epoch.position.issued.signature``): it is signed,
    not secret."""
    parts = token.split(".")
    if len(parts) == 5 and parts[2].isdigit():
        return int(parts[2])
    return None


def reached_backend(path: str, response: Any) -> bool:
    """Did this answer to a protected path come from the backend (i.e. the gateway let it in)?"""
    if path.startswith(PREFIX + "/") or response.headers.get("x-wr-status") is not None:
        return False
    if 200 <= response.status_code < 300:
        return True  # the gateway's own answers on protected paths carry x-wr-status
    content = response.content or b""
    return any(marker in content for marker in _BACKEND_MARKERS)


class Person(FastHttpUser):
    abstract = True
    wait_time = constant(0)
    # A browser's handful of connections; a waiting person mostly holds none.
    concurrency = 2
    connection_timeout = 10.0
    network_timeout = 60.0

    # Set by the node before the greenlet starts.
    plan: Plan
    node: Node
    record: Record

    def on_stop(self) -> None:
        """Killed at the end of the replay, or stopped itself: close the record."""
        record = getattr(self, "record", None)
        if record is None:
            return
        if not self.node.finishing and record.state in OPEN_STATES:
            # Stopped by the runner mid-replay (it reconciled its user count): a person lost.
            record.state = "killed"
            record.error = record.error or "stopped by the Locust runner during the replay"
        elif record.state in ("arriving", "attacking"):
            record.state = "interrupted"
        self.node.touch(record)

    def cookie(self, name: str) -> str | None:
        for item in self.client.cookiejar:
            if item.name == name:
                return item.value
        return None

    def think(self) -> None:
        mean = self.node.settings.think_time
        if mean > 0:
            gevent.sleep(random.uniform(0.5, 1.5) * mean)


class Applicant(Person):
    """One applicant: arrives, waits in line, registers, leaves."""

    pass_token: str | None = None

    @task
    def visit(self) -> None:
        record = self.record
        try:
            admitted, first_poll = self.arrive(record)
            if not admitted and record.state == "waiting":
                admitted = self.wait_turn(record, first_poll)
            if admitted:
                self.register(record)
        finally:
            self.node.touch(record)
        raise StopUser

    # -- the waiting room ----------------------------------------------------------------

    def arrive(self, record: Record) -> tuple[bool, float]:
        """Open the site. Returns (admitted already, when the page first polls)."""
        for attempt in range(3):
            record.state = "arriving"
            record.arrived_at = sent = time.time()
            with self.client.get(
                "/", headers=BROWSER, name="/ [arrive]", catch_response=True
            ) as resp:
                got = time.time()
                status = resp.headers.get("x-wr-status")
                if resp.status_code == 200 and status is None:
                    # Straight in: no queue (or no gateway at all, in the direct replay).
                    resp.success()
                    record.admitted_at = record.placed_at = got
                    record.state = "admitted"
                    return True, 0.0
                if resp.status_code == 200 and status in ("waiting", "paused", "closed"):
                    resp.success()
                    return False, self._queued(record, resp.content or b"", sent, got)
                message = f"arrival: HTTP {resp.status_code} {status or ''}".strip()
                resp.failure(message)
                self._fail(record, message)
                retry = _retry_after(resp, 2.0 * (attempt + 1))
            gevent.sleep(retry)
        record.state = "lost"
        return False, 0.0

    def _queued(self, record: Record, page: bytes, sent: float, got: float) -> float:
        record.state = "waiting"
        record.placed_at = got
        record.last_waiting_at = sent
        ticket = self.cookie("wr_ticket")
        if ticket:
            record.position = ticket_position(ticket)
        eta = self.cookie("wr_eta")  # "low.high.start": the range the page shows
        if eta:
            parts = eta.split(".")
            if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
                record.eta_low, record.eta_high, record.eta_at = int(parts[0]), int(parts[1]), got
        found = _POLL.search(page)
        return float(found.group(1)) if found else 2.0

    def wait_turn(self, record: Record, delay: float) -> bool:
        """Poll when told to until admitted. Returns False if the place was lost or abandoned."""
        plan = self.plan
        while True:
            gevent.sleep(delay)
            if plan.kind == "abandoner" and record.polls >= plan.abandon_after:
                record.state = "abandoned"  # closes the tab; never comes back
                return False
            sent = time.time()
            with self.client.get(
                PREFIX + "/status", headers=JSON, name=PREFIX + "/status", catch_response=True
            ) as resp:
                got = time.time()
                record.polls += 1
                body = _json(resp) if resp.status_code == 200 else None
                state = body.get("status") if body else None
                if state == "admitted":
                    resp.success()
                    record.admitted_at = got
                    record.state = "admitted"
                    self.pass_token = body.get("pass") if body else None
                    return True
                if body is not None and state in ("waiting", "paused", "closed"):
                    resp.success()
                    record.last_waiting_at = sent
                    eta = body.get("eta_seconds")
                    if record.eta_at is None and eta:
                        record.eta_low, record.eta_high, record.eta_at = (
                            int(eta[0]),
                            int(eta[1]),
                            got,
                        )
                    delay = float(body.get("poll_after_seconds") or 2.0)
                    continue
                if state == "expired" or resp.status_code in (400, 401):
                    message = f"place lost: {state or resp.status_code}"
                    resp.failure(message)
                    self._fail(record, message)
                    record.state = "lost"
                    return False
                message = f"status: HTTP {resp.status_code}"
                resp.failure(message)
                self._fail(record, message)
                # The page's script polls again after twice the interval; the place is kept.
                delay = min(MAX_POLL_AFTER_ERROR, max(delay * 2, _retry_after(resp, 2.0)))

    # -- the funnel ----------------------------------------------------------------------

    def register(self, record: Record) -> None:
        plan, direct = self.plan, self.node.settings.direct
        # Admitted while waiting: the page's script reloads, and with the pass the reload
        # reaches the backend.
        if not direct and record.polls and not self._page("GET", "/", "/ [admitted]", 200, record):
            return self._give_up(record)
        self.think()
        if not self._page("GET", "/register", "/register", 200, record):
            return self._give_up(record)
        self.think()
        fields = {
            "name": "Siti Rahayu",
            "email": f"pelamar-{plan.run}-{plan.index}@contoh.id",
            "password": "rahasia-123",
        }
        resp = self._page("POST", "/register", "/register", 201, record, fields)
        if resp is None:
            return self._give_up(record)
        record.reached = 0
        token = resp.headers.get("x-stub-email-token")
        if plan.depth >= 1:
            self.think()
            path = f"/verify-email?token={token}"
            if not token or not self._page("GET", path, "/verify-email", 200, record):
                return self._give_up(record)
            record.reached = 1
        if plan.depth >= 2:
            self.think()
            if not self._page("GET", "/nik", "/nik", 200, record):
                return self._give_up(record)
            self.think()
            nik = {
                "nik": nik_for(plan.index, plan.run),
                "kk": _KK,
                "date_of_birth": _BORN.isoformat(),
            }
            sent = time.time()
            answered = self._page("POST", "/nik", "/nik", 200, record, nik)
            record.nik_at = time.time()
            record.nik_ms = (record.nik_at - sent) * 1000
            if not answered:
                return self._give_up(record)
            record.reached = 2
        if plan.depth >= 3:
            for step in (self._photo, self._batch):
                self.think()
                if not step(record):
                    return self._give_up(record)
            record.reached = 3
            record.released = True  # the batch step's answer carried X-WR-Command: release
            record.state = "done"
            if self.cookie("wr_pass") is None:  # the gateway ended the session and cleared it
                self._pass_is_dead()
            return None
        return self._give_up(record, finished=True)

    def _photo(self, record: Record) -> bool:
        if not self._page("GET", "/photo", "/photo", 200, record):
            return False
        self.think()
        boundary = "surge" + os.urandom(8).hex()
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="ktp.png"'
                f"\r\nContent-Type: image/png\r\n\r\n"
            ).encode()
            + PNG
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {**BROWSER, "Content-Type": f"multipart/form-data; boundary={boundary}"}
        return self._page("POST", "/photo", "/photo", 200, record, body, headers) is not None

    def _batch(self, record: Record) -> bool:
        if not self._page("GET", "/batch", "/batch", 200, record):
            return False
        self.think()
        return (
            self._page("POST", "/batch", "/batch", 200, record, {"batch": "gelombang-1"})
            is not None
        )

    def _page(
        self,
        method: str,
        path: str,
        name: str,
        expected: int,
        record: Record,
        data: dict[str, str] | bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """One backend page; the response if it is the expected one, else None (a failure)."""
        if headers is None:
            headers = FORM if isinstance(data, dict) else BROWSER
        payload = urlencode(data) if isinstance(data, dict) else data
        with self.client.request(
            method, path, name=name, data=payload, headers=headers, catch_response=True
        ) as resp:
            held = resp.headers.get("x-wr-status")
            if resp.status_code == expected and held is None:
                resp.success()
                return resp
            message = f"{method} {name}: HTTP {resp.status_code}" + (
                f" (held: {held})" if held else ""
            )
            resp.failure(message)
            self._fail(record, message)
            return None

    def _give_up(self, record: Record, finished: bool = False) -> None:
        """Stop here: the funnel ended early (by plan or after an error). Free the slot."""
        record.state = "done" if finished else "failed"
        if self.node.settings.direct:
            return
        self.think()
        with self.client.post(
            PREFIX + "/leave", headers=JSON, name=PREFIX + "/leave", catch_response=True
        ) as resp:
            body = _json(resp) if resp.status_code == 200 else None
            if body is not None and body.get("status") == "left":
                resp.success()
                record.released = bool(body.get("session_ended"))
                if record.released:
                    self._pass_is_dead()
            else:
                message = f"leave: HTTP {resp.status_code}"
                resp.failure(message)
                self._fail(record, message)

    def _pass_is_dead(self) -> None:
        if self.pass_token:
            self.node.dead_passes.append(self.pass_token)

    @staticmethod
    def _fail(record: Record, message: str) -> None:
        record.failures += 1
        if record.failed_at is None:
            record.failed_at = time.time()
        if not record.error:
            record.error = message


class Attacker(Person):
    """One attacker: a single trick (``plan.attack``), a few times over, then gone."""

    TRICKS = ("forged_ticket", "tampered_ticket", "ticket_as_pass", "replayed_pass", "join_hammer")
    HAMMER = 30

    @task
    def attack(self) -> None:
        record = self.record
        record.arrived_at = time.time()
        record.state = "attacking"
        trick: Callable[[Record], None] = getattr(self, "_" + self.plan.attack)
        try:
            trick(record)
            record.state = "attacked"
        finally:
            self.node.touch(record)
        raise StopUser

    def _forged_ticket(self, record: Record) -> None:
        for _ in range(3):
            sig = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
            forged = f"prakerja.1.{random.randint(1, 50)}.{int(time.time())}.{sig}"
            self._probe(
                record, "GET", PREFIX + "/status", "attack: forged ticket", {"X-WR-Ticket": forged}
            )
            self._probe(
                record, "GET", "/register", "attack: forged ticket", {"X-WR-Ticket": forged}
            )

    def _tampered_ticket(self, record: Record) -> None:
        ticket = self._join(record)
        if ticket is None:
            return
        event, epoch, position, issued, sig = ticket.split(".")
        flipped = sig[:-1] + ("A" if sig[-1] != "A" else "B")
        for forged in (
            f"{event}.{epoch}.1.{issued}.{sig}",
            f"{event}.{epoch}.{position}.{issued}.{flipped}",
        ):
            self._probe(
                record,
                "GET",
                PREFIX + "/status",
                "attack: tampered ticket",
                {"X-WR-Ticket": forged},
            )
            self._probe(
                record, "GET", "/register", "attack: tampered ticket", {"X-WR-Ticket": forged}
            )

    def _ticket_as_pass(self, record: Record) -> None:
        ticket = self._join(record)
        if ticket is None:
            return
        # No valid ticket alongside (X-WR-Ticket: "-"), or the attacker's own turn could
        # legitimately let it in.
        headers = {"X-WR-Pass": ticket, "X-WR-Ticket": NO_TICKET}
        self._probe(record, "GET", "/register", "attack: ticket as pass", headers)
        self._probe(record, "POST", "/register", "attack: ticket as pass", headers, b"name=x")
        self.client.cookiejar.clear()
        cookie = {"Cookie": f"wr_pass={ticket}", "X-WR-Ticket": NO_TICKET}
        self._probe(record, "GET", "/register", "attack: ticket as pass", cookie)

    def _replayed_pass(self, record: Record) -> None:
        # Wait a little for someone's session to end, so the pass is a real, spent one.
        for _ in range(30):
            if self.node.dead_passes:
                break
            gevent.sleep(1.0)
        if self.node.dead_passes:
            captured = self.node.dead_passes.popleft()
        else:  # nobody finished yet: a well-formed pass with a made-up signature
            sig = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
            captured = f"prakerja.1-1.1.{int(time.time()) + 600}.{sig}"
        headers = {"X-WR-Pass": captured, "X-WR-Ticket": NO_TICKET}
        for _ in range(2):
            self._probe(record, "GET", "/register", "attack: replayed pass", headers)
            self._probe(record, "POST", "/register", "attack: replayed pass", headers, b"name=x")

    def _join_hammer(self, record: Record) -> None:
        positions = set()
        for _ in range(self.HAMMER):
            resp = self._probe(record, "POST", PREFIX + "/join", "attack: join hammer", {})
            body = _json(resp) if resp is not None and resp.status_code == 200 else None
            if body and isinstance(body.get("position"), int):
                positions.add(body["position"])
        if len(positions) > 1:
            # A valid ticket must keep its place: hammering must never move anyone forward.
            record.error = f"join hammer got {len(positions)} different positions"

    def _join(self, record: Record) -> str | None:
        resp = self._probe(record, "POST", PREFIX + "/join", "attack: join", {})
        body = _json(resp) if resp is not None and resp.status_code == 200 else None
        ticket = body.get("ticket") if body else None
        return ticket if isinstance(ticket, str) and ticket.count(".") == 4 else None

    def _probe(
        self,
        record: Record,
        method: str,
        path: str,
        name: str,
        headers: dict[str, str],
        data: bytes | None = None,
        browser: bool = False,
    ) -> ResponseContextManager | None:
        base = BROWSER if browser else JSON
        if data is not None:
            base = {**base, "Content-Type": "application/x-www-form-urlencoded"}
        record.attempts += 1
        with self.client.request(
            method, path, name=name, data=data, headers={**base, **headers}, catch_response=True
        ) as resp:
            body = _json(resp) if path == PREFIX + "/status" and resp.status_code == 200 else None
            if resp.status_code == 0 or resp.status_code >= 500:
                record.server_errors += 1
                resp.failure(f"server error: HTTP {resp.status_code}")
            elif reached_backend(path, resp) or (body and body.get("status") == "admitted"):
                record.bypasses += 1
                record.error = record.error or f"{name}: got in with HTTP {resp.status_code}"
                resp.failure("BYPASS: the attacker got in")
            else:
                resp.success()
            return resp


def _json(resp: Any) -> dict[str, Any] | None:
    try:
        body = resp.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _retry_after(resp: Any, default: float) -> float:
    raw = resp.headers.get("retry-after") if resp.headers else None
    try:
        return max(default, float(raw)) if raw else default
    except ValueError:
        return default
