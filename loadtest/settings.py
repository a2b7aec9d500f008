"""The replay's own command-line options (each also an environment variable, ``SURGE_*``), and
the typed settings object read from them once per use.

They are registered on Locust's parser, so they appear in ``locust --help``, in the web UI's
start form, and are handed from the master to the workers with every spawn message.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

# name, default, type, help
OPTIONS: list[tuple[str, Any, type, str]] = [
    ("surge_scale", 0.02, float, "fraction of the real surge (1.0 = 80,000 arrivals a minute)"),
    ("surge_duration", 120.0, float, "seconds of arrivals: ramp 20 %, hold 30 %, decay 50 %"),
    ("backend_url", "http://127.0.0.1:8001", str, "the backend stub, for /_stub/stats"),
    ("admission_rate", 0, int, "the gateway's configured admissions per minute (0: unknown)"),
    ("abandon_share", 0.02, float, "share of applicants who walk away from the queue"),
    ("attacker_share", 0.01, float, "share of arrivals who are attackers"),
    ("think_time", 1.0, float, "mean seconds an applicant spends on each page of the funnel"),
    ("p50_ms", 100.0, float, "limit of the waiting room's median latency, ms"),
    ("p95_ms", 500.0, float, "limit of the waiting room's 95th percentile latency, ms"),
    ("p99_ms", 1000.0, float, "limit of the waiting room's 99th percentile latency, ms"),
    ("rate_tolerance", 0.05, float, "admissions per minute may differ from the rate by this share"),
    ("eta_error_max", 0.5, float, "limit of the ETA's median absolute percentage error"),
    ("kendall_max", 0.05, float, "limit of the normalised Kendall tau distance (FIFO)"),
    ("fifo_slack", 0.5, float, "seconds of gateway cache age not counted as a FIFO inversion"),
    ("report_dir", "", str, "where the report goes (default: reports/<timestamp>)"),
    ("finish_timeout", 30.0, float, "seconds the master waits for the workers' final records"),
    ("seed", 1, int, "seed of the arrivals' plan"),
]


def add_options(parser: Any) -> None:
    """Register the options on Locust's parser (``env_var`` is its configargparse extension;
    arguments added to the parser itself, not to a group, also appear in the web UI)."""
    for name, default, kind, help_text in OPTIONS:
        flag = "--" + name.replace("_", "-")
        env = "SURGE_" + name.upper()
        parser.add_argument(
            flag, type=kind, default=default, env_var=env, help=f"{help_text} [{env}]"
        )
    parser.add_argument(
        "--admin-token",
        default="",
        env_var="SURGE_ADMIN_TOKEN",
        is_secret=True,
        help="the gateway's WR_ADMIN_TOKEN: without --admission-rate, the rate is read from "
        "/_wr/admin/api/config [SURGE_ADMIN_TOKEN]",
    )
    parser.add_argument(
        "--surge-direct",
        action="store_true",
        default=False,
        env_var="SURGE_DIRECT",
        help="the host is the backend itself, without the gateway: no waiting room checks",
    )


@dataclass(frozen=True)
class Settings:
    surge_scale: float = 0.02
    surge_duration: float = 120.0
    backend_url: str = "http://127.0.0.1:8001"
    admission_rate: int = 0
    abandon_share: float = 0.02
    attacker_share: float = 0.01
    think_time: float = 1.0
    p50_ms: float = 100.0
    p95_ms: float = 500.0
    p99_ms: float = 1000.0
    rate_tolerance: float = 0.05
    eta_error_max: float = 0.5
    kendall_max: float = 0.05
    fifo_slack: float = 0.5
    report_dir: str = ""
    finish_timeout: float = 30.0
    seed: int = 1
    surge_direct: bool = False
    admin_token: str = field(default="", repr=False)

    @property
    def direct(self) -> bool:
        return self.surge_direct

    @classmethod
    def from_options(cls, options: Any) -> Settings:
        """From Locust's parsed options; missing ones (a worker before its first spawn message)
        keep their defaults."""
        values = {}
        for f in fields(cls):
            value = getattr(options, f.name, None) if options is not None else None
            if value is not None:
                values[f.name] = value
        return cls(**values)
