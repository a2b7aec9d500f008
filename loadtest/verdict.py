"""The verdict: does the waiting room hold the surge? Pure functions over what the replay saw.

Inputs: the people's records (``loadtest.records``), the master's samples of the gateway and the
stub (``loadtest.sampler``), Locust's statistics (as a plain dict, see ``locust_stats`` in
``loadtest.suite``), the stub's final ``/_stub/stats`` and the settings. Output: a ``Verdict``,
a list of checks (each passed, failed, or not applicable) and the figures behind them.

FIFO is measured two ways:

- the normalised Kendall tau distance between arrival order (position) and the order in which
  applicants saw themselves admitted; polling makes the second order noisy, so it is a figure
  with a loose limit;
- *proven* inversions among arrivals more than a second apart: B arrived later than A, yet B was
  answered "admitted" before a poll of A's was sent that still said "waiting" (with ``slack``
  seconds allowed for the age of a gateway worker's cached snapshot), or B got a smaller
  position. These must be zero. "A second apart" counts from A's answer, see ``fifo``.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from loadtest.funnel import SHARES, STEPS
from loadtest.records import Record
from loadtest.settings import Settings

# The waiting room's own endpoints, as the applicants name them in Locust's statistics.
WAITING_ROOM = ("/ [arrive]", "/_wr/status", "/_wr/leave")
PEOPLE = ("applicant", "abandoner")


@dataclass
class Check:
    name: str
    ok: bool | None  # None: not applicable to this replay
    value: str
    limit: str = ""


@dataclass
class Verdict:
    checks: list[Check]
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def green(self) -> bool:
        return all(c.ok is not False for c in self.checks) and any(c.ok for c in self.checks)

    def as_json(self) -> dict[str, Any]:
        return {
            "green": self.green,
            "checks": [asdict(c) for c in self.checks],
            "figures": self.figures,
        }


# -- FIFO ----------------------------------------------------------------------------------


class _Fenwick:
    def __init__(self, size: int) -> None:
        self.tree = [0] * (size + 1)

    def add(self, i: int) -> None:  # 0-based
        i += 1
        while i < len(self.tree):
            self.tree[i] += 1
            i += i & -i

    def count(self, i: int) -> int:  # how many added at 0-based index < i
        total = 0
        while i > 0:
            total += self.tree[i]
            i -= i & -i
        return total


def count_inversions(values: Sequence[float]) -> int:
    """Pairs i < j with values[i] > values[j] (ties are not inversions)."""
    ranks = sorted(set(values))
    tree = _Fenwick(len(ranks))
    inversions = 0
    for seen, value in enumerate(values):
        rank = bisect.bisect_right(ranks, value)
        inversions += seen - tree.count(rank)  # earlier values strictly greater
        tree.add(rank - 1)
    return inversions


def kendall_tau_distance(position_and_time: Iterable[tuple[int, float]]) -> tuple[float, int]:
    """Normalised Kendall tau distance between position order and admission order, and n."""
    pairs = sorted(position_and_time)
    n = len(pairs)
    if n < 2:
        return 0.0, n
    return count_inversions([t for _, t in pairs]) / (n * (n - 1) / 2), n


def later_but_ahead(
    earlier: Iterable[tuple[float, float]], later: Iterable[tuple[float, float]], gap: float
) -> int:
    """Pairs (a, b) with a.arrived + gap < b.arrived and b.key < a.key.

    ``earlier`` and ``later`` are (arrival time, key) pairs: with key = last seen waiting for
    ``earlier`` and key = admitted (+ slack) for ``later``, this counts the people admitted
    while someone who came more than ``gap`` seconds before them was still told to wait.
    """
    a_items = sorted(earlier)
    keys = sorted({k for _, k in a_items})
    tree = _Fenwick(len(keys))
    added = 0
    found = 0
    i = 0
    for arrived, key in sorted(later):
        while i < len(a_items) and a_items[i][0] + gap < arrived:
            tree.add(bisect.bisect_left(keys, a_items[i][1]))
            added += 1
            i += 1
        found += added - tree.count(bisect.bisect_right(keys, key))
    return found


def fifo(records: Sequence[Record], gap: float = 1.0, slack: float = 0.5) -> dict[str, Any]:
    """FIFO measures. "A arrived more than ``gap`` before B" means A's arrival was *answered*
    (A held its position) more than ``gap`` seconds before B's was *sent*: two arrivals in
    flight at once may reach the gateway in either order, and that is latency, not unfairness
    (it is counted apart, as ``arrivals_reordered_in_flight``)."""
    people = [r for r in records if r.kind in PEOPLE and r.arrived_at is not None]
    admitted = [r for r in people if r.admitted_at is not None]
    placed = [r for r in people if r.placed_at is not None]
    waiting = [(r.placed_at, r.last_waiting_at) for r in placed if r.last_waiting_at is not None]
    got_in = [(r.arrived_at, r.admitted_at + slack) for r in admitted]  # type: ignore[operator]
    proven = later_but_ahead(waiting, got_in, gap)  # type: ignore[arg-type]
    # A later arrival with a smaller position: position order contradicting arrival order.
    held = [(r.placed_at, r.position) for r in placed if r.position is not None]
    asked = [(r.arrived_at, r.position) for r in people if r.position is not None]
    out_of_order = later_but_ahead(held, asked, gap)  # type: ignore[arg-type]
    reordered = later_but_ahead(asked, asked, gap)  # type: ignore[arg-type]
    tau, n = kendall_tau_distance(
        (r.position, r.admitted_at)  # type: ignore[misc]
        for r in admitted
        if r.position is not None
    )
    # Admitted in the other order than they arrived, as the (polling) applicants saw it.
    seen = [(r.arrived_at, r.admitted_at) for r in admitted]
    seen_late = later_but_ahead(seen, seen, gap)  # type: ignore[arg-type]
    return {
        "kendall_tau": tau,
        "kendall_n": n,
        "inversions": proven + out_of_order,
        "inversions_admitted_while_earlier_waited": proven,
        "inversions_position_order": out_of_order,
        "arrivals_reordered_in_flight": reordered - out_of_order,
        "observed_admission_order_swaps": seen_late,
    }


# -- ETA and admission rate ----------------------------------------------------------------


def eta_error(records: Sequence[Record], min_wait: float = 10.0) -> dict[str, Any]:
    """Median absolute percentage error of the first ETA shown (mid of the range), over those
    who waited ``min_wait`` seconds or more: a client learns of its admission at its next poll,
    up to two seconds later near the front, which would swamp shorter waits."""
    errors, signed = [], []
    for r in records:
        if r.kind not in PEOPLE or r.eta_at is None or r.admitted_at is None:
            continue
        if r.eta_low is None or r.eta_high is None:
            continue
        actual = r.admitted_at - r.eta_at
        if actual < min_wait:
            continue
        shown = (r.eta_low + r.eta_high) / 2
        errors.append(abs(shown - actual) / actual)
        signed.append((shown - actual) / actual)
    if not errors:
        return {"eta_mdape": None, "eta_n": 0, "eta_median_bias": None}
    return {
        "eta_mdape": statistics.median(errors),
        "eta_n": len(errors),
        "eta_median_bias": statistics.median(signed),
    }


def backlog_window(
    samples: Sequence[dict[str, Any]], rate_per_minute: int
) -> tuple[float, float] | None:
    """From the first to the last sample with a real queue: at least two seconds of admissions
    waiting (a position or two between controller ticks is not a backlog)."""
    threshold = max(2.0, 2 * rate_per_minute / 60)
    queued = [s["t"] for s in samples if s.get("wr_queue_length", 0) >= threshold]
    if len(queued) < 2:
        return None
    return queued[0], queued[-1]


def _at(samples: Sequence[dict[str, Any]], t: float, name: str) -> float | None:
    for s in samples:
        if s["t"] >= t and name in s:
            return float(s[name])
    return None


def admission_rate(
    records: Sequence[Record], samples: Sequence[dict[str, Any]], rate_per_minute: int
) -> dict[str, Any]:
    window = backlog_window(samples, rate_per_minute) if rate_per_minute > 0 else None
    if window is None:
        return {"backlog_s": 0.0}
    t0, t1 = window
    span = t1 - t0
    admitted = sum(
        1
        for r in records
        if r.kind in PEOPLE and r.admitted_at is not None and t0 <= r.admitted_at <= t1
    )
    out: dict[str, Any] = {
        "backlog_from": t0,
        "backlog_to": t1,
        "backlog_s": span,
        "admitted_per_minute": admitted / span * 60 if span > 0 else None,
    }
    for name, key in (
        ("wr_serving", "released_per_minute"),
        ("wr_admissions_total", "redeemed_per_minute"),
    ):
        a, b = _at(samples, t0, name), _at(samples, t1, name)
        if a is not None and b is not None and span > 0:
            out[key] = (b - a) / span * 60
    return out


# -- the rest ------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def peak_rate(times: Sequence[float], window: float) -> float:
    """The most events in any ``window`` seconds, per minute."""
    ordered = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(ordered):
        while ordered[j] < t - window:
            j += 1
        best = max(best, i - j + 1)
    return best * 60 / window


def funnel(records: Sequence[Record]) -> dict[str, Any]:
    """How far the applicants who registered and then left got (those still on a form when the
    replay ended would only lower the shares)."""
    registered = [
        r
        for r in records
        if r.kind == "applicant" and r.reached >= 0 and r.state in ("done", "failed")
    ]
    out: dict[str, Any] = {
        "registered": len(registered),
        "still_in_funnel": sum(
            1 for r in records if r.kind == "applicant" and r.state == "admitted"
        ),
    }
    for i, step in enumerate(STEPS[1:], start=1):
        n = sum(1 for r in registered if r.reached >= i)
        out[step] = n
        out[f"{step}_share"] = n / len(registered) if registered else None
        out[f"{step}_target"] = SHARES[step]
    return out


def _fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def judge(
    records: Sequence[Record],
    samples: Sequence[dict[str, Any]],
    stats: dict[str, Any],
    stub: dict[str, Any] | None,
    settings: Settings,
    planned: int = 0,
) -> Verdict:
    s = settings
    checks: list[Check] = []
    people = [r for r in records if r.kind in PEOPLE]
    arrived = [r for r in people if r.arrived_at is not None]
    attackers = [r for r in records if r.kind == "attacker"]
    figures: dict[str, Any] = {
        "scale": s.surge_scale,
        "duration_s": s.surge_duration,
        "direct": s.direct,
        "planned_arrivals": planned,
        "people": len(people),
        "arrived": len(arrived),
        "attackers": len(attackers),
        "nodes": sorted({r.node for r in records}),
        "states": _count(r.state for r in records),
    }

    # The replay itself: did the load generator keep up with the curve?
    due = [r.due_at for r in records if r.due_at]
    figures["surge_from"] = min(due, default=None)
    figures["surge_to"] = max(due, default=None)
    lateness = [r.arrived_at - r.due_at for r in arrived if r.due_at]  # type: ignore[operator]
    late_p99 = percentile(lateness, 0.99)
    figures["arrival_lateness_p99_s"] = late_p99
    arrival_times = [r.arrived_at for r in arrived]
    figures["target_peak_per_minute"] = 80_000 * s.surge_scale
    figures["peak_arrivals_per_minute_10s"] = peak_rate(arrival_times, 10.0)  # type: ignore[arg-type]
    figures["peak_arrivals_per_minute_60s"] = (
        peak_rate(arrival_times, 60.0) if s.surge_duration >= 60 else None  # type: ignore[arg-type]
    )
    checks.append(
        Check(
            "arrivals on schedule (p99 lateness)",
            None if late_p99 is None else late_p99 <= 1.0,
            "-" if late_p99 is None else f"{late_p99:.2f} s ({len(arrived)} arrived)",
            "1.00 s",
        )
    )

    # Applicants' requests.
    entries: dict[str, dict[str, Any]] = stats.get("entries", {})
    applicant_failures = sum(
        e["num_failures"] for n, e in entries.items() if not n.startswith("attack:")
    )
    applicant_requests = sum(
        e["num_requests"] for n, e in entries.items() if not n.startswith("attack:")
    )
    figures["applicant_requests"] = applicant_requests
    figures["applicant_failures"] = applicant_failures
    figures["requests_per_second"] = stats.get("total", {}).get("rps")
    figures["errors"] = stats.get("errors", [])[:10]
    checks.append(
        Check("applicant requests failed", applicant_failures == 0, str(applicant_failures), "0")
    )

    # Waiting-room latency.
    latency: dict[str, Any] = {}
    for name in WAITING_ROOM:
        entry = next((e for n, e in entries.items() if n == name), None)
        if entry is None or not entry["num_requests"]:
            continue
        latency[name] = {k: entry[k] for k in ("num_requests", "p50", "p95", "p99", "max")}
        if s.direct:
            continue
        ok = entry["p50"] <= s.p50_ms and entry["p95"] <= s.p95_ms and entry["p99"] <= s.p99_ms
        value = "/".join(_fmt_ms(entry[k]) for k in ("p50", "p95", "p99")) + " ms"
        limit = f"{s.p50_ms:.0f}/{s.p95_ms:.0f}/{s.p99_ms:.0f} ms"
        checks.append(Check(f"latency {name} p50/p95/p99", ok, value, limit))
    figures["latency_ms"] = latency

    # The backend: never beyond its capacity, never overloaded.
    if stub:
        cap, nik = stub.get("capacity", {}), stub.get("nik_api", {})
        peak, peak_nik = stub.get("stub", {}).get("peak_in_flight", 0), nik.get("peak_in_flight", 0)
        overload = stub.get("overload", {})
        rejected = int(overload.get("rejected_503", 0)) + int(overload.get("timeout_504", 0))
        figures["backend"] = {
            "capacity": cap.get("stub"),
            "peak_in_flight": peak,
            "peak_queued": stub.get("stub", {}).get("peak_queued"),
            "nik_capacity": cap.get("nik_api"),
            "nik_peak_in_flight": peak_nik,
            "nik_peak_queued": nik.get("peak_queued"),
            "rejected_503": overload.get("rejected_503", 0),
            "timeout_504": overload.get("timeout_504", 0),
            "latency_ms": stub.get("latency_ms", {}),
            "funnel": stub.get("funnel", {}),
        }
        checks.append(
            Check(
                "backend peak concurrency",
                peak <= cap.get("stub", peak),
                f"{peak}",
                f"{cap.get('stub')}",
            )
        )
        checks.append(
            Check(
                "NIK API peak concurrency",
                peak_nik <= cap.get("nik_api", peak_nik),
                f"{peak_nik}",
                f"{cap.get('nik_api')}",
            )
        )
        checks.append(
            Check(
                "backend overload rejections (503 + 504)",
                rejected == 0,
                f"{rejected} ({overload.get('rejected_503', 0)} x 503 + "
                f"{overload.get('timeout_504', 0)} x 504)",
                "0",
            )
        )
    else:
        checks.append(Check("backend stats", False, "unavailable", s.backend_url))

    # Admissions per minute over the backlog.
    rate = admission_rate(records, samples, s.admission_rate)
    figures["admission"] = {**rate, "configured_per_minute": s.admission_rate}
    measured = rate.get("admitted_per_minute")
    if s.direct:
        pass
    elif s.admission_rate <= 0 or measured is None or rate["backlog_s"] < 20:
        reason = "no configured rate" if s.admission_rate <= 0 else "no backlog of 20 s or more"
        checks.append(Check("admissions per minute (during the backlog)", None, reason))
    else:
        off = measured / s.admission_rate - 1
        checks.append(
            Check(
                "admissions per minute (during the backlog)",
                abs(off) <= s.rate_tolerance,
                f"{measured:.0f} ({off:+.1%} over {rate['backlog_s']:.0f} s)",
                f"{s.admission_rate} +/- {s.rate_tolerance:.0%}",
            )
        )

    # FIFO and ETA.
    if not s.direct:
        order = fifo(records, slack=s.fifo_slack)
        figures["fifo"] = order
        checks.append(
            Check(
                "FIFO inversions (arrivals > 1 s apart)",
                order["inversions"] == 0,
                str(order["inversions"]),
                "0",
            )
        )
        checks.append(
            Check(
                "FIFO Kendall tau distance",
                # Below a hundred admissions the distance mostly measures poll jitter.
                order["kendall_tau"] <= s.kendall_max if order["kendall_n"] >= 100 else None,
                f"{order['kendall_tau']:.4f} (n={order['kendall_n']})",
                f"{s.kendall_max}",
            )
        )
        eta = eta_error(records)
        figures["eta"] = eta
        mdape = eta["eta_mdape"]
        checks.append(
            Check(
                "ETA error (median abs. % error)",
                None if mdape is None or eta["eta_n"] < 10 else mdape <= s.eta_error_max,
                "-"
                if mdape is None
                else f"{mdape:.1%} (n={eta['eta_n']}, bias {eta['eta_median_bias']:+.1%})",
                f"{s.eta_error_max:.0%}",
            )
        )
        lost = [r for r in people if r.state in ("lost", "killed")]
        figures["lost_examples"] = [r.error for r in lost[:5]]
        checks.append(Check("applicants lost", not lost, str(len(lost)), "0"))

    # Attackers.
    if attackers:
        bypasses = sum(r.bypasses for r in attackers)
        errors = sum(r.server_errors for r in attackers)
        figures["attacks"] = {
            trick: {
                "attackers": sum(1 for r in attackers if r.attack == trick),
                "requests": sum(r.attempts for r in attackers if r.attack == trick),
                "bypasses": sum(r.bypasses for r in attackers if r.attack == trick),
                "server_errors": sum(r.server_errors for r in attackers if r.attack == trick),
            }
            for trick in sorted({r.attack for r in attackers})
        }
        figures["attack_notes"] = sorted({r.error for r in attackers if r.error})[:10]
        checks.append(Check("attacker admissions", bypasses == 0, str(bypasses), "0"))
        checks.append(Check("attacker 5xx", errors == 0, str(errors), "0"))

    figures["funnel"] = funnel(records)
    return Verdict(checks, figures)


def _count(values: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))
