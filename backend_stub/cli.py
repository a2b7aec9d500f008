"""``backend-stub``: run the stub with uvicorn.

    backend-stub --port 8001 --capacity 64 --nik-capacity 8 --nik-latency-ms 200

Every capacity knob is a flag whose default comes from its ``STUB_*`` environment variable
(see ``backend_stub.settings``); the port defaults to ``BACKEND_STUB_PORT`` or 8001, the host to
``BACKEND_STUB_HOST`` or 127.0.0.1 (loopback: ``/_stub/*`` has no authentication).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

from backend_stub.app import create_app
from backend_stub.settings import StubSettings, parse_bool

# flag, settings field, type, help
KNOBS: list[tuple[str, str, Callable[[str], Any], str]] = [
    ("--capacity", "capacity", int, "requests served at once (C)"),
    ("--queue-limit", "queue_limit", int, "requests that may wait for a slot; beyond: 503"),
    ("--queue-timeout", "queue_timeout", float, "seconds a request waits for a slot; then 503"),
    ("--service-ms", "service_ms", float, "base service time of a request, ms"),
    ("--service-jitter", "service_jitter", float, "relative variation of the service time, 0..1"),
    ("--queue-penalty-ms", "queue_penalty_ms", float, "extra service ms per queued request"),
    ("--nik-capacity", "nik_capacity", int, "concurrent civil-registry calls (K)"),
    ("--nik-latency-ms", "nik_latency_ms", float, "median civil-registry latency, ms"),
    ("--nik-sigma", "nik_sigma", float, "lognormal shape of the registry latency (tail)"),
    ("--nik-timeout", "nik_timeout", float, "seconds to wait for a registry slot; then 504"),
    ("--photo-max-bytes", "photo_max_bytes", int, "largest accepted photo, bytes"),
    ("--expose-tokens", "expose_tokens", parse_bool, "return the e-mail token in a header"),
    ("--seed", "seed", int, "seed of the random latencies"),
    ("--stats-window", "stats_window", int, "latency samples kept per step"),
    ("--templates-dir", "templates_dir", Path, "directory of the Jinja2 templates"),
]


def _env_port() -> int:
    raw = os.environ.get("BACKEND_STUB_PORT", "").strip() or "8001"
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"backend-stub: BACKEND_STUB_PORT is not a port number: {raw!r}") from None


def build_parser(defaults: StubSettings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backend-stub",
        description="A stand-in for the Kartu Prakerja registration backend, with the capacity "
        "limits that broke it in April 2020.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--host",
        default=os.environ.get("BACKEND_STUB_HOST", "127.0.0.1"),
        help="address to bind [BACKEND_STUB_HOST]",
    )
    parser.add_argument(
        "--port", type=int, default=_env_port(), help="port to bind [BACKEND_STUB_PORT]"
    )
    parser.add_argument("--log-level", default="info", help="uvicorn log level")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    for flag, name, kind, help_text in KNOBS:
        env = "STUB_" + name.upper()
        parser.add_argument(
            flag, dest=name, type=kind, default=getattr(defaults, name), help=f"{help_text} [{env}]"
        )
    return parser


def main(argv: list[str] | None = None) -> None:
    try:
        defaults = StubSettings.from_env()
    except ValueError as exc:
        raise SystemExit(f"backend-stub: {exc}") from None
    args = build_parser(defaults).parse_args(argv)
    try:
        settings = dataclasses.replace(
            defaults, **{name: getattr(args, name) for _, name, *_ in KNOBS}
        )
    except ValueError as exc:
        raise SystemExit(f"backend-stub: {exc}") from None
    # uvicorn configures only its own loggers; this makes the stub's startup line visible too.
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s:     %(message)s")
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=args.access_log,
    )


if __name__ == "__main__":
    main()
