"""What each simulated person leaves behind: one ``Record``, sent from the worker to the master.

Times are wall-clock Unix seconds (``time.time()``), so records from several load-generating
machines can be compared as long as their clocks are synchronised (NTP).

For the FIFO check the times are taken conservatively: ``last_waiting_at`` is when the last poll
that said "waiting" was *sent* (the gateway saw the ticket waiting no earlier), and
``admitted_at`` is when the poll that said "admitted" was *answered* (the gateway admitted it no
later). If B's ``admitted_at`` is before A's ``last_waiting_at``, B really got in while A was
still told to wait.

Kinds: ``applicant`` (walks the funnel), ``abandoner`` (an applicant who walks away from the
queue and never comes back), ``attacker`` (see ``loadtest.users``).

States: ``scheduled`` (not arrived yet), ``arriving``, ``waiting``, ``admitted`` (in the
funnel), ``done`` (left through the batch step or POST /_wr/leave), ``abandoned``, ``failed``
(gave up after an error in the funnel), ``lost`` (had a place and lost it, or never got one),
``attacking``, ``attacked``, ``interrupted`` (the replay ended mid-arrival).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

# States in which a person is still somewhere when the replay ends.
OPEN_STATES = frozenset({"scheduled", "arriving", "waiting", "admitted", "attacking"})


@dataclass(slots=True)
class Record:
    id: int  # the arrival's index in the surge: unique over every worker
    kind: str
    node: int = 0
    attack: str = ""
    depth: int = 0
    due_at: float = 0.0  # when the surge curve said this person arrives
    arrived_at: float | None = None  # when the first request was sent
    placed_at: float | None = None  # when its answer came (with the ticket, or straight in)
    position: int | None = None
    eta_low: int | None = None  # the ETA first shown, seconds
    eta_high: int | None = None
    eta_at: float | None = None
    last_waiting_at: float | None = None
    admitted_at: float | None = None
    state: str = "scheduled"
    reached: int = -1  # index in funnel.STEPS of the last step completed
    released: bool = False  # the session ended (batch step or POST /_wr/leave)
    polls: int = 0
    failures: int = 0
    failed_at: float | None = None  # the first failure
    error: str = ""
    nik_at: float | None = None  # when POST /nik was answered, and how long it took
    nik_ms: float | None = None
    attempts: int = 0  # attackers: requests sent
    bypasses: int = 0  # attackers: requests that got through to the backend or were admitted
    server_errors: int = 0  # attackers: 5xx (or broken connections) they caused

    def row(self) -> list[Any]:
        return [getattr(self, name) for name in FIELDS]

    @classmethod
    def from_row(cls, row: list[Any]) -> Record:
        return cls(**dict(zip(FIELDS, row, strict=True)))


FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Record))
