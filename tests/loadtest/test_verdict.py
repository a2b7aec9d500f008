"""The replay's pure parts: the arrival curve, the funnel plan and the verdict's measures."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest

from loadtest.curve import PEAK_PER_MINUTE, STAGES, Stage, SurgeCurve
from loadtest.funnel import SHARES, depth_for
from loadtest.records import Record
from loadtest.settings import Settings
from loadtest.stack import Capacity
from loadtest.verdict import (
    admission_rate,
    count_inversions,
    eta_error,
    fifo,
    judge,
    kendall_tau_distance,
    later_but_ahead,
    peak_rate,
)


def test_curve_peaks_at_the_scaled_80000_a_minute_and_integrates_exactly() -> None:
    curve = SurgeCurve(scale=0.5, duration=100)
    assert curve.peak == pytest.approx(PEAK_PER_MINUTE * 0.5 / 60)
    assert curve.rate(0) == 0
    assert curve.rate(30) == pytest.approx(curve.peak)  # holding
    assert curve.rate(99.999) == pytest.approx(curve.peak * 0.1, rel=1e-3)  # decayed
    # Ramp (triangle) + hold + decay (trapezoid), in units of peak-seconds.
    assert curve.total == pytest.approx(curve.peak * (10 + 30 + 50 * 0.55))
    assert [s.name for s in STAGES] == ["ramp", "hold", "decay"]


def test_arrival_instants_follow_the_curve_without_bursts() -> None:
    curve = SurgeCurve(scale=0.02, duration=60)
    instants = [t for _, t in curve.arrivals(0, 60)]
    assert len(instants) == int(curve.total + 0.5)
    assert instants == sorted(instants)
    for t in (5.0, 20.0, 45.0):  # the count by t matches the integral of the rate
        assert sum(1 for x in instants if x < t) == pytest.approx(curve.expected(t), abs=1)
    # During the hold, arrivals are evenly spaced at 1/rate, not bunched at the tick.
    hold = [b - a for a, b in itertools.pairwise(x for x in instants if 15 < x < 28)]
    assert max(hold) == pytest.approx(1 / curve.peak, rel=0.01)
    # Asking in chunks (one tick at a time) gives the same arrivals.
    chunked, nxt = [], 0
    for until in range(1, 61):
        got = list(curve.arrivals(nxt, until))
        chunked += got
        nxt = got[-1][0] + 1 if got else nxt
    assert [t for _, t in chunked] == instants


def test_curve_rejects_a_table_that_does_not_cover_the_duration() -> None:
    with pytest.raises(ValueError, match=r"1\.0"):
        SurgeCurve(0.1, 10, stages=(Stage("ramp", 0.5, 0, 1),))


def test_funnel_depths_reproduce_the_percentages_of_april_2020() -> None:
    depths = Counter(depth_for(k) for k in range(2000))
    at_least = [sum(n for d, n in depths.items() if d >= i) / 2000 for i in range(4)]
    assert at_least[0] == 1
    assert at_least[1] == pytest.approx(SHARES["email_verified"], abs=0.005)
    assert at_least[2] == pytest.approx(SHARES["nik_verified"], abs=0.005)
    assert at_least[3] == pytest.approx(SHARES["joined_batch"], abs=0.005)


def test_capacity_matches_the_admission_rate_to_the_registry() -> None:
    small, default = Capacity.for_scale(0.02), Capacity.for_scale(0.08)
    assert small.rate_per_minute == 400  # a quarter of the scaled peak
    assert default.nik_latency_ms == pytest.approx(200, rel=0.01)  # the stub's own default
    # The registry is 40 % busy at the admission rate (throughput: K / mean latency).
    mean_s = small.nik_latency_ms / 1000 * 1.3771
    assert 0.4365 * small.rate_per_minute / 60 == pytest.approx(0.4 * 8 / mean_s, rel=0.01)


def test_inversions_and_kendall_tau() -> None:
    assert count_inversions([1, 2, 3]) == 0
    assert count_inversions([3, 2, 1]) == 3
    assert count_inversions([1, 1, 1]) == 0
    values = [random.Random(7).random() for _ in range(300)]
    brute = sum(1 for i, j in itertools.combinations(range(300), 2) if values[i] > values[j])
    assert count_inversions(values) == brute
    assert kendall_tau_distance([(1, 10.0), (2, 11.0), (3, 12.0)]) == (0.0, 3)
    assert kendall_tau_distance([(1, 12.0), (2, 11.0), (3, 10.0)]) == (1.0, 3)


def test_later_but_ahead_counts_only_pairs_more_than_the_gap_apart() -> None:
    earlier = [(0.0, 10.0), (5.0, 20.0)]  # (arrived, key)
    later = [(0.5, 5.0), (2.0, 5.0), (2.0, 30.0)]
    # (0.5, 5): nobody arrived more than 1 s before. (2.0, 5): A at 0 with key 10 > 5.
    assert later_but_ahead(earlier, later, gap=1.0) == 1
    rng = random.Random(3)
    a = [(rng.uniform(0, 50), rng.uniform(0, 50)) for _ in range(200)]
    b = [(rng.uniform(0, 50), rng.uniform(0, 50)) for _ in range(200)]
    brute = sum(1 for x in a for y in b if x[0] + 1 < y[0] and y[1] < x[1])
    assert later_but_ahead(a, b, 1.0) == brute


def person(
    i: int, arrived: float, admitted: float | None, waited: float | None, **kw: object
) -> Record:
    return Record(
        id=i,
        kind="applicant",
        due_at=arrived,
        arrived_at=arrived,
        placed_at=arrived + 0.01,
        position=kw.pop("position", i + 1),
        admitted_at=admitted,
        last_waiting_at=waited,
        state="done" if admitted else "waiting",
        **kw,  # type: ignore[arg-type]
    )


def test_fifo_finds_a_later_arrival_admitted_while_an_earlier_one_waited() -> None:
    fair = [person(i, float(i), 20.0 + i, 19.0 + i) for i in range(10)]
    assert fifo(fair)["inversions"] == 0
    assert fifo(fair)["kendall_tau"] == 0
    # Person 5 is admitted at 21.0, while person 2 (arrived 3 s earlier) was told to wait at 21.9.
    unfair = [*fair[:5], person(5, 5.0, 21.0, 19.0), *fair[6:]]
    order = fifo(unfair)
    assert order["inversions_admitted_while_earlier_waited"] >= 1
    # Within the slack (a gateway worker's snapshot age), no proven inversion.
    close = [*fair[:5], person(5, 5.0, 21.6, 19.0), *fair[6:]]
    assert fifo(close, slack=0.5)["inversions_admitted_while_earlier_waited"] == 0
    # Positions contradicting arrival order are inversions too.
    swapped = [person(0, 0.0, 20.0, 19.0), person(1, 5.0, 21.0, 20.0)]
    swapped[1].position = 0
    assert fifo(swapped)["inversions_position_order"] == 1
    # In flight together (A's answer came only after B asked): the gateway may see B first.
    slow = person(0, 0.0, 20.0, 19.0, position=2)
    slow.placed_at = 3.0
    in_flight = fifo([slow, person(1, 1.5, 21.0, 20.0, position=1)])
    assert in_flight["inversions"] == 0
    assert in_flight["arrivals_reordered_in_flight"] == 1


def test_eta_error_is_the_median_absolute_percentage_error_of_the_first_eta() -> None:
    records = [
        person(i, 0.0, 100.0, 99.0, eta_low=low, eta_high=high, eta_at=0.0)
        for i, (low, high) in enumerate([(80, 120), (100, 140), (40, 60)])
    ]
    result = eta_error(records)
    assert eta_error(records, min_wait=200)["eta_n"] == 0
    assert result["eta_n"] == 3
    assert result["eta_mdape"] == pytest.approx(0.2)  # errors 0 %, 20 %, 50 %


def test_admission_rate_is_measured_over_the_backlog() -> None:
    samples = [
        {"t": float(t), "wr_queue_length": 0 if t < 10 or t > 70 else 50, "wr_serving": 10 * t}
        for t in range(81)
    ]
    records = [person(i, 0.0, 10 + i * 0.1, 9.0) for i in range(600)]  # 10 a second, 10..70 s
    rate = admission_rate(records, samples, 600)
    assert rate["backlog_s"] == 60
    assert rate["admitted_per_minute"] == pytest.approx(600, rel=0.02)
    assert rate["released_per_minute"] == pytest.approx(600)
    assert admission_rate(records, samples[:5], 600) == {"backlog_s": 0.0}


def test_peak_rate_per_minute() -> None:
    assert peak_rate([i / 10 for i in range(100)], 10.0) == pytest.approx(600)


def stub(rejected: int = 0, nik_peak: int = 3) -> dict[str, object]:
    return {
        "capacity": {"stub": 64, "nik_api": 8},
        "stub": {"peak_in_flight": 10, "peak_queued": 0},
        "nik_api": {"peak_in_flight": nik_peak, "peak_queued": 0},
        "overload": {"rejected_503": 0, "timeout_504": rejected},
    }


def stats(failures: int = 0, p99: float = 20.0) -> dict[str, object]:
    entry = {
        "num_requests": 100,
        "num_failures": failures,
        "p50": 2,
        "p95": 10,
        "p99": p99,
        "max": 30,
    }
    attack = {**entry, "num_failures": 0}
    return {
        "entries": {"/_wr/status": entry, "attack: forged ticket": attack},
        "total": {"rps": 5.0},
    }


def test_judge_is_green_when_everything_holds_and_red_for_each_failure() -> None:
    people = [person(i, float(i), 20.0 + i, 19.0 + i) for i in range(20)]
    attacker = Record(id=99, kind="attacker", attack="forged_ticket", attempts=6, state="attacked")
    settings = Settings(admission_rate=0)
    green = judge([*people, attacker], [], stats(), stub(), settings)
    assert green.green, [c for c in green.checks if c.ok is False]
    assert {c.name for c in green.checks if c.ok is None} == {
        "admissions per minute (during the backlog)",
        "ETA error (median abs. % error)",
        "FIFO Kendall tau distance",
    }
    red = [
        judge([*people, attacker], [], stats(failures=3), stub(), settings),
        judge([*people, attacker], [], stats(p99=5000), stub(), settings),
        judge([*people, attacker], [], stats(), stub(rejected=4), settings),
        judge([*people, attacker], [], stats(), None, settings),
    ]
    lost = Record(id=19, kind="applicant", arrived_at=19.0, state="lost")
    red.append(judge([*people[:-1], lost], [], stats(), stub(), settings))
    bypass = Record(id=98, kind="attacker", attack="ticket_as_pass", attempts=3, bypasses=1)
    red.append(judge([*people, bypass], [], stats(), stub(), settings))
    for verdict in red:
        assert not verdict.green
    failed = {c.name for v in red for c in v.checks if c.ok is False}
    assert {
        "applicant requests failed",
        "latency /_wr/status p50/p95/p99",
        "backend overload rejections (503 + 504)",
        "backend stats",
        "applicants lost",
        "attacker admissions",
    } <= failed
