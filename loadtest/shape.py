"""``SurgeShape``: the Locust load shape that replays the surge as open arrivals.

The stage table (``loadtest.curve.STAGES``) says how the arrival rate ramps to the peak of
80,000 a minute (times ``--surge-scale``), holds and decays over ``--surge-duration`` seconds.
Every tick (about once a second) the shape plans the people due in the coming second, each with
its exact instant on the curve, and hands them to the nodes that generate load (the local
runner, or the workers round-robin); the nodes start one user per arrival at its instant (see
``loadtest.node`` for why this is not done through Locust's user count, which ``tick()`` keeps
at zero). Arrivals thus follow the curve whatever the response times, and a one-second tick
never turns into a one-second burst.

Each arrival is planned as an applicant, an abandoner (``--abandon-share``) or an attacker
(``--attacker-share``, the tricks taken in turn), with its funnel depth from ``loadtest.funnel``.
"""

from __future__ import annotations

import random
import time
from typing import Any

from locust import LoadTestShape
from locust.runners import STATE_MISSING, STATE_RUNNING, LocalRunner, MasterRunner

from loadtest.curve import STAGES, SurgeCurve
from loadtest.funnel import depth_for
from loadtest.node import ARRIVE, Plan
from loadtest.settings import Settings
from loadtest.users import Attacker

# Plan this far ahead, so each node has every arrival of the coming second before it is due.
LOOKAHEAD = 1.0


class SurgeShape(LoadTestShape):
    stages = STAGES
    # Honour --run-time (-t): the replay stops there even if the curve goes on. (--users and
    # --spawn-rate mean nothing here: arrivals come from the curve.)
    use_common_options = True

    def __init__(self) -> None:
        super().__init__()
        self._restart()

    def reset_time(self) -> None:
        super().reset_time()
        self._restart()

    def _restart(self) -> None:
        self.curve: SurgeCurve | None = None
        self.end = 0.0
        self.t0 = 0.0
        self.wall0 = 0.0
        self.next_index = 0
        self.applicants = 0
        self.attackers = 0
        self.turn = 0
        self.rng = random.Random()
        self.settings = Settings()
        self.run = 0
        self.dispatched = 0

    def tick(self) -> tuple[int, float] | None:
        runner = self.runner
        if runner is None or runner.state != STATE_RUNNING:
            # Let Locust start its (empty) test first: nobody is dispatched through its user count.
            return (0, 1.0)
        if self.curve is None:
            self._begin(runner)
        assert self.curve is not None
        elapsed = time.monotonic() - self.t0
        if elapsed >= self.end:
            return None
        until = min(self.curve.duration, elapsed + LOOKAHEAD)
        plans = [
            (t - elapsed, self._plan(k, t)) for k, t in self.curve.arrivals(self.next_index, until)
        ]
        if plans:
            self.next_index = plans[-1][1].index + 1
            self._dispatch(runner, plans)
        return (0, 1.0)

    def _begin(self, runner: Any) -> None:
        self.settings = Settings.from_options(runner.environment.parsed_options)
        s = self.settings
        self.curve = SurgeCurve(s.surge_scale, s.surge_duration, self.stages)
        run_time = getattr(runner.environment.parsed_options, "run_time", None)
        self.end = min(self.curve.duration, float(run_time)) if run_time else self.curve.duration
        self.t0 = time.monotonic()
        self.wall0 = time.time()
        self.rng = random.Random(s.seed)
        self.run = int(self.wall0) % 1_000_000

    def _plan(self, k: int, t: float) -> Plan:
        s = self.settings
        attack, kind, depth, abandon_after = "", "applicant", 0, 0
        if s.direct:
            pass  # no waiting room: nobody to attack, no queue to walk away from
        elif self.rng.random() < s.attacker_share:
            kind = "attacker"
            attack = Attacker.TRICKS[self.attackers % len(Attacker.TRICKS)]
            self.attackers += 1
        elif self.rng.random() < s.abandon_share:
            kind = "abandoner"
            abandon_after = self.rng.randint(0, 2)
        if kind == "applicant":
            depth = depth_for(self.applicants)
            self.applicants += 1
        return Plan(k, kind, attack, depth, abandon_after, self.wall0 + t, self.run)

    def _dispatch(self, runner: Any, plans: list[tuple[float, Plan]]) -> None:
        self.dispatched += len(plans)
        if isinstance(runner, LocalRunner):
            from loadtest.suite import node_of

            node_of(runner.environment).arrive(plans)
            return
        assert isinstance(runner, MasterRunner)
        workers = sorted(w.id for w in runner.clients.values() if w.state != STATE_MISSING)
        if not workers:
            return
        batches: dict[str, list[list[Any]]] = {w: [] for w in workers}
        for delay, plan in plans:
            batches[workers[self.turn % len(workers)]].append([delay, *plan.row()])
            self.turn += 1
        for worker, batch in batches.items():
            if batch:
                runner.send_message(ARRIVE, {"plans": batch}, client_id=worker)
