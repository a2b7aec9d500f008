"""The report of a replay, next to Locust's own HTML and CSV: a picture and a short summary.

``plot()``: arrivals and admissions per second (with the surge curve), the queue, the backend's
concurrency and its NIK API's concurrency against their capacities, over time (matplotlib,
Agg backend: no display needed). ``summary()``: the verdict and its figures in Markdown.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loadtest.curve import SurgeCurve
from loadtest.records import FIELDS, Record
from loadtest.verdict import Verdict


def _per_second(times: Sequence[float], t0: float) -> tuple[list[float], list[int]]:
    counts = Counter(int(t - t0) for t in times if t >= t0)
    if not counts:
        return [], []
    xs = list(range(0, max(counts) + 1))
    return [x + 0.5 for x in xs], [counts.get(x, 0) for x in xs]


def _moving_average(values: Sequence[float], width: int) -> list[float]:
    out = []
    for i in range(len(values)):
        window = values[max(0, i - width + 1) : i + 1]
        out.append(sum(window) / len(window))
    return out


def plot(
    path: Path,
    records: Sequence[Record],
    samples: Sequence[dict[str, Any]],
    verdict: Verdict,
    capacity: dict[str, Any] | None,
    scale: float,
    duration: float,
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    due = [r.due_at for r in records if r.due_at]
    t0 = min(due) if due else (samples[0]["t"] if samples else 0.0)
    people = [r for r in records if r.kind in ("applicant", "abandoner")]
    fig, axes = plt.subplots(4, 1, figsize=(11, 11), sharex=True)
    verdict_text = "GREEN" if verdict.green else "RED"
    mode = (
        "direct to the backend (no gateway)"
        if verdict.figures.get("direct")
        else "through the gateway"
    )
    fig.suptitle(f"Surge replay x{scale:g}, {mode}: verdict {verdict_text}", fontsize=13)

    ax = axes[0]
    curve = SurgeCurve(scale, duration)
    xs = [i / 4 for i in range(int(duration * 4) + 1)]
    ax.plot(xs, [curve.rate(x) for x in xs], "--", color="grey", label="surge curve")
    x, y = _per_second([r.arrived_at for r in people if r.arrived_at], t0)
    ax.plot(x, y, color="tab:blue", label="arrivals")
    x, y = _per_second([r.admitted_at for r in people if r.admitted_at], t0)
    # Polling makes admissions arrive in clumps a couple of seconds apart: a 5 s average.
    ax.plot(x, _moving_average(y, 5), color="tab:green", label="admitted (5 s average)")
    served = [(s["t"] - t0, s["wr_serving"]) for s in samples if "wr_serving" in s]
    if len(served) > 1:
        ax.plot(
            [b[0] for b in served[1:]],
            [(b[1] - a[1]) / max(1e-9, b[0] - a[0]) for a, b in itertools.pairwise(served)],
            color="tab:olive",
            linewidth=0.8,
            label="released by the controller",
        )
    rate = verdict.figures.get("admission", {}).get("configured_per_minute")
    if rate and not verdict.figures.get("direct"):
        ax.axhline(rate / 60, color="tab:green", linestyle=":", label="admission rate")
    ax.set_ylabel("people / s")
    ax.legend(loc="upper right", fontsize=8)

    ts = [s["t"] - t0 for s in samples]

    def series(name: str) -> list[float]:
        return [float(s.get(name, 0) or 0) for s in samples]

    ax = axes[1]
    if any("wr_queue_length" in s for s in samples):
        ax.plot(ts, series("wr_queue_length"), color="tab:orange", label="queue (tail - serving)")
        ax.plot(ts, series("wr_active_sessions"), color="tab:purple", label="active sessions")
        ax.legend(loc="upper left", fontsize=8)
        ax.set_ylabel("people")
    else:  # no waiting room: what the applicants got instead
        x, y = _per_second([r.failed_at for r in people if r.failed_at], t0)
        ax.bar(x, y, width=1.0, color="tab:red", label="applicants failing (first error), per s")
        ax.set_ylabel("people / s")
        ax.legend(loc="upper left", fontsize=8)

    cap = capacity or {}
    for ax, prefix, limit, title in (
        (axes[2], "stub", cap.get("stub"), "backend"),
        (axes[3], "nik", cap.get("nik_api"), "NIK API"),
    ):
        ax.plot(ts, series(f"{prefix}_in_flight"), color="tab:blue", label=f"{title} in flight")
        ax.plot(ts, series(f"{prefix}_queued"), color="tab:red", label=f"{title} queued")
        if limit:
            ax.axhline(limit, color="black", linestyle="--", label=f"capacity {limit}")
        ax.set_ylabel("requests")
        ax.legend(loc="upper left", fontsize=8)
    nik = [(r.nik_at - t0, r.nik_ms / 1000) for r in people if r.nik_at and r.nik_ms is not None]
    if nik:
        twin = axes[3].twinx()
        twin.scatter([a for a, _ in nik], [b for _, b in nik], s=4, color="tab:gray", alpha=0.6)
        twin.set_ylabel("POST /nik response time, s (dots)")
    rejected = [
        float(s.get("rejected_503", 0) or 0) + float(s.get("timeout_504", 0) or 0) for s in samples
    ]
    if any(rejected):
        twin = axes[2].twinx()
        twin.plot(
            ts, rejected, color="tab:brown", linestyle=":", label="rejected (503 + 504), total"
        )
        twin.set_ylabel("rejected")
        twin.legend(loc="upper right", fontsize=8)
    axes[-1].set_xlabel("seconds since the surge began")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _num(value: Any, fmt: str = "{:.0f}") -> str:
    return "-" if value is None else fmt.format(value)


def summary(verdict: Verdict, files: dict[str, str]) -> str:
    f = verdict.figures
    mode = "straight at the backend stub (no gateway)" if f.get("direct") else "through the gateway"
    lines = [
        f"# Surge replay: verdict {'GREEN' if verdict.green else 'RED'}",
        "",
        f"Scale {f.get('scale')} of 80,000 arrivals a minute, "
        f"{f.get('duration_s'):.0f} s of arrivals, {mode}.",
        "",
        _row(["check", "value", "limit", "result"]),
        _row(["---", "---", "---", "---"]),
    ]
    for c in verdict.checks:
        result = "n/a" if c.ok is None else ("pass" if c.ok else "**FAIL**")
        lines.append(_row([c.name, c.value, c.limit, result]))
    admission = f.get("admission", {})
    fifo = f.get("fifo", {})
    backend = f.get("backend", {})
    lines += [
        "",
        "## Figures",
        "",
        f"- arrivals: {f.get('arrived')} people arrived (of {f.get('planned_arrivals')} planned), "
        f"{f.get('attackers')} attackers; states {f.get('states')}",
        f"- arrivals per minute: target peak {_num(f.get('target_peak_per_minute'))}, reached "
        f"{_num(f.get('peak_arrivals_per_minute_10s'))} (best 10 s) / "
        f"{_num(f.get('peak_arrivals_per_minute_60s'))} (best 60 s)",
        "- requests per second (Locust, whole run): "
        f"{_num(f.get('requests_per_second'), '{:.1f}')}",
        f"- admissions per minute during the backlog ({_num(admission.get('backlog_s'))} s): "
        f"{_num(admission.get('admitted_per_minute'))} admitted, "
        f"{_num(admission.get('released_per_minute'))} released by the controller, configured "
        f"{admission.get('configured_per_minute') or '-'}",
    ]
    if fifo:
        lines.append(
            f"- FIFO: Kendall tau distance {fifo['kendall_tau']:.4f} "
            f"over {fifo['kendall_n']} admitted; "
            f"proven inversions {fifo['inversions']}; order swaps as seen by polling clients "
            f"{fifo['observed_admission_order_swaps']}"
        )
    eta = f.get("eta") or {}
    if eta.get("eta_mdape") is not None:
        lines.append(
            f"- ETA first shown vs actual wait: median abs. error {eta['eta_mdape']:.1%}, "
            f"median bias {eta['eta_median_bias']:+.1%} (n={eta['eta_n']})"
        )
    if backend:
        lines.append(
            f"- backend: peak {backend['peak_in_flight']} in flight "
            f"of capacity {backend['capacity']} (peak queue {backend['peak_queued']}); "
            f"NIK API peak {backend['nik_peak_in_flight']} of "
            f"{backend['nik_capacity']} (peak queue {backend['nik_peak_queued']}); rejected "
            f"{backend['rejected_503']} x 503, {backend['timeout_504']} x 504"
        )
    for node, p in sorted(f.get("load_generator_gc_pauses", {}).items()):
        if p:
            lines.append(
                f"- Locust node {node}: its garbage collector paused it {p['count']} times, "
                f"{p['total_ms']:.0f} ms in all, the longest {p['longest_ms']:.0f} ms"
            )
    lines += ["", "## Latency (ms)", "", _row(["request", "count", "p50", "p95", "p99", "max"])]
    lines.append(_row(["---"] * 6))
    for name, e in f.get("latency_ms", {}).items():
        lines.append(
            _row(
                [
                    name,
                    e["num_requests"],
                    _num(e["p50"]),
                    _num(e["p95"]),
                    _num(e["p99"]),
                    _num(e["max"]),
                ]
            )
        )
    for step, e in backend.get("latency_ms", {}).items():
        lines.append(
            _row(
                [
                    f"backend {step}",
                    e.get("samples"),
                    e.get("p50"),
                    e.get("p95"),
                    e.get("p99"),
                    e.get("max"),
                ]
            )
        )
    funnel = f.get("funnel", {})
    if funnel.get("registered"):
        lines += [
            "",
            "## Funnel (applicants who registered)",
            "",
            _row(["step", "people", "share", "SURGE.md"]),
        ]
        lines.append(_row(["---"] * 4))
        lines.append(_row(["registered", funnel["registered"], "100 %", "100 %"]))
        for step in ("email_verified", "nik_verified", "joined_batch"):
            lines.append(
                _row(
                    [
                        step,
                        funnel[step],
                        f"{funnel[f'{step}_share']:.2%}",
                        f"{funnel[f'{step}_target']:.2%}",
                    ]
                )
            )
    attacks = f.get("attacks")
    if attacks:
        lines += ["", "## Attacks", "", _row(["trick", "attackers", "requests", "got in", "5xx"])]
        lines.append(_row(["---"] * 5))
        for trick, a in attacks.items():
            lines.append(
                _row([trick, a["attackers"], a["requests"], a["bypasses"], a["server_errors"]])
            )
    if f.get("errors"):
        lines += ["", "## Errors (Locust)", ""]
        lines += [
            f"- {e['method']} {e['name']}: {e['error']} x {e['occurrences']}" for e in f["errors"]
        ]
    lines += ["", "## Files", ""] + [f"- {k}: `{v}`" for k, v in files.items()]
    return "\n".join(lines) + "\n"


def write(
    directory: Path,
    verdict: Verdict,
    records: Sequence[Record],
    samples: Sequence[dict[str, Any]],
    capacity: dict[str, Any] | None,
    scale: float,
    duration: float,
) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "summary": str(directory / "summary.md"),
        "plot": str(directory / "surge.png"),
        "verdict": str(directory / "verdict.json"),
        "people": str(directory / "people.csv"),
        "samples": str(directory / "samples.json"),
    }
    plot(Path(files["plot"]), records, samples, verdict, capacity, scale, duration)
    Path(files["verdict"]).write_text(json.dumps(verdict.as_json(), indent=2, default=str))
    Path(files["samples"]).write_text(json.dumps(list(samples)))
    with Path(files["people"]).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIELDS)
        writer.writerows(r.row() for r in sorted(records, key=lambda r: r.id))
    Path(files["summary"]).write_text(summary(verdict, files))
    return files
