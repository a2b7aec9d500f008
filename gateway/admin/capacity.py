"""What an admission rate means for the registration backend (the funnel of ../SURGE.md).

Shares are of registrations, from the 13 April 2020 statement on the Kartu Prakerja launch.
"""

from __future__ import annotations

from typing import Any

FUNNEL: tuple[tuple[str, str, float], ...] = (
    ("register", "registrations", 1.0),
    ("verify_email", "e-mail verifications", 0.7385),
    ("verify_nik", "NIK checks", 0.4365),
    ("join_batch", "training batch joins", 0.0543),
)


def per_second(value: float) -> str:
    """200 -> "200", 87.3 -> "87", 4.36 -> "4.4", 0.04 -> "0.04"."""
    if value >= 10:
        return f"{value:,.0f}"
    if value >= 0.1:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{value:.2g}"


def capacity(rate_per_minute: int) -> dict[str, Any]:
    """Per-second load on each funnel step, and a one-line summary for people."""
    registrations = rate_per_minute / 60
    steps = [
        {"step": key, "label": label, "share": share, "per_second": registrations * share}
        for key, label, share in FUNNEL
    ]
    # The NIK check against the civil registry is the weakest link: the one to watch.
    _, label, share = FUNNEL[2]
    summary = (
        f"{rate_per_minute:,}/min = {per_second(registrations)} registrations/s; "
        f"{label} at {share * 100:.2f} % = {per_second(registrations * share)}/s"
    )
    return {"registrations_per_second": registrations, "funnel": steps, "summary": summary}
