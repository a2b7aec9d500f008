"""``gateway admin ...``: the admin API from a terminal (httpx, synchronous).

gateway admin status                           the room now
gateway admin set --rate 12000 --max-active 5000 [--session-lifetime N] [--grace-period N]
                  [--mode queue|pause|closed|passthrough] [--version N]
gateway admin pause | resume | close | open-now
gateway admin open-at 2026-12-01T08:00+07:00   scheduled opening (ISO 8601 with an offset)
gateway admin audit [--limit N]
gateway admin reset --confirm EVENT            start the event over (every ticket is void)

The gateway is --url (default $WR_GATEWAY_URL, else http://127.0.0.1:8000); the token comes from
$WR_ADMIN_TOKEN and is never printed. --json prints the API's answer as it is.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import sys
from typing import Any

import httpx

from gateway.admin.opening import iso_wib, parse_when

DEFAULT_URL = "http://127.0.0.1:8000"
ACTIONS = ("pause", "resume", "close", "open-now")


class CliError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in this environment
        return "cli"


def _request(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    token = os.environ.get("WR_ADMIN_TOKEN", "")
    if not token:
        raise CliError("set WR_ADMIN_TOKEN to the gateway's admin token", 2)
    url = f"{args.url.rstrip('/')}{args.prefix}/admin/api/{path}"
    headers = {"authorization": f"Bearer {token}", "x-wr-actor": args.actor}
    try:
        response = httpx.request(method, url, json=body, headers=headers, timeout=args.timeout)
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach the gateway at {args.url}: {type(exc).__name__}", 2) from None
    try:
        data = response.json()
    except ValueError:
        data = {"error": f"HTTP {response.status_code} (not JSON)"}
    if response.status_code >= 400:
        message = data.get("error", "") if isinstance(data, dict) else ""
        raise CliError(f"HTTP {response.status_code}: {message or response.reason_phrase}")
    return data


def _n(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _seconds(value: float) -> str:
    if value < 90:
        return f"{value:.0f} s"
    if value < 5400:
        return f"{value / 60:.0f} min"
    return f"{value / 3600:.1f} h"


def _rows(rows: list[tuple[str, str]]) -> str:
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def format_state(s: dict[str, Any]) -> str:
    c, b, o = s["config"], s["backend"], s["opening"]
    eta = s["eta_newcomer_seconds"]
    opening = "open (no opening time set)"
    if o["opens_at"] is not None:
        left = o["opens_in_seconds"]
        opening = f"{o['opens_at_iso']}  " + (f"(in {_seconds(left)})" if left > 0 else "(opened)")
        if o["prequeue"] is not None:
            opening += f", {_n(o['prequeue'])} in the pre-queue"
    workers = s["workers"] or []
    live = [w for w in workers if w["live"]]
    rates = s["rates"]
    backend = "no traffic in the last minute"
    if b["requests_per_second"]:
        backend = (
            f"{_n(b['requests_per_second'], 1)} req/s, {_n(b['latency_ms_avg'], 1)} ms avg, "
            f"p95 <= {_n(b['latency_ms_p95'])} ms, errors {_n((b['error_rate'] or 0) * 100, 2)} %"
        )
    rows = [
        ("event", f"{s['event']} (epoch {s['epoch']})"),
        ("mode", f"{c['mode']}  (config version {c['version']})"),
        ("opening", opening),
        ("rate", f"{_n(c['rate_per_minute'])}/min"),
        ("capacity", s["capacity"]["summary"]),
        ("max active", _n(c["max_active"])),
        ("session", f"{c['session_lifetime']} s lifetime, {c['grace_period']} s grace"),
        ("queue", f"{_n(s['queue_length'])} (tail {_n(s['tail'])}, serving {_n(s['serving'])})"),
        ("active", f"{_n(s['active_sessions'])} of {_n(c['max_active'])}"),
        (
            "admissions",
            f"{_n(s['admission_rate_per_minute'], 1)}/min over the last "
            f"{_n(rates['window_seconds'])} s (released {_n(rates['releases_per_minute'], 1)}"
            f"/min, arrivals {_n(rates['arrivals_per_minute'], 1)}/min)",
        ),
        ("no-shows", f"{_n(s['no_show_ratio'] * 100, 1)} %"),
        ("newcomer ETA", f"{_seconds(eta[0])} - {_seconds(eta[1])}" if eta else "-"),
        ("backend", backend),
        ("workers", f"{len(live)} live: " + ", ".join(w["id"] for w in live)),
    ]
    if s["stale"]:
        rows.append(("WARNING", "this worker cannot reach Redis: its numbers are stale"))
    return _rows(rows)


def _value(name: str, value: Any) -> str:
    if value in ("", None):
        return "-"
    if name == "opens_at":
        try:
            return iso_wib(float(value)) or "-"
        except ValueError:
            return str(value)
    return str(value)


def format_audit(entries: list[dict[str, Any]]) -> str:
    if not entries:
        return "(no changes yet)"
    lines = [("TIME", "ACTOR", "VERSION", "CHANGE")]
    for e in entries:
        when = dt.datetime.fromtimestamp(e["time"]).astimezone().isoformat(timespec="seconds")
        if "reset" in e["new"]:
            change = "event reset (every ticket and pass of the old epoch is void)"
        else:
            change = "; ".join(
                f"{k}: {_value(k, e['old'].get(k))} -> {_value(k, v)}" for k, v in e["new"].items()
            )
        lines.append((when, e["actor"], str(e["version"]), change))
    widths = [max(len(line[i]) for line in lines) for i in range(3)]
    return "\n".join(
        "  ".join(f"{cell:<{widths[i]}}" for i, cell in enumerate(line[:3])) + "  " + line[3]
        for line in lines
    )


def format_config(data: dict[str, Any]) -> str:
    c = data.get("config") or {}
    head = f"ok: config version {data.get('version', c.get('version'))}"
    if "epoch" in data:
        head = f"ok: the event starts over at epoch {data['epoch']}"
    opens = iso_wib(c.get("opens_at")) or "none"
    return (
        f"{head}\nmode {c.get('mode')}, rate {_n(c.get('rate_per_minute'))}/min, "
        f"max active {_n(c.get('max_active'))}, session {c.get('session_lifetime')} s, "
        f"grace {c.get('grace_period')} s, opens at {opens}"
    )


def run(args: argparse.Namespace) -> int:
    command = args.admin_command
    try:
        if command == "status":
            data = _request(args, "GET", "state")
            text = format_state(data)
        elif command == "audit":
            data = _request(args, "GET", f"audit?limit={args.limit}")
            text = format_audit(data["entries"])
        else:
            method, path, body = _change(args)
            data = _request(args, method, path, body)
            text = format_config(data)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    print(json.dumps(data, indent=2) if args.json else text)
    return 0


def _change(args: argparse.Namespace) -> tuple[str, str, dict[str, Any]]:
    command = args.admin_command
    if command in ACTIONS:
        return "POST", command, {}
    if command == "reset":
        return "POST", "reset", {"confirm": args.confirm}
    if command == "open-at":
        try:
            return "PATCH", "config", {"opens_at": parse_when(args.when)}
        except ValueError as exc:
            raise CliError(f"open-at: {exc}", 2) from None
    changes = {
        name: getattr(args, name)
        for name in ("rate_per_minute", "max_active", "session_lifetime", "grace_period", "mode")
        if getattr(args, name) is not None
    }
    if not changes:
        raise CliError("set: nothing to set (see gateway admin set --help)", 2)
    if args.version is not None:
        changes["version"] = args.version
    return "PATCH", "config", changes


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``admin`` and its commands to the ``gateway`` command's subparsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        default=os.environ.get("WR_GATEWAY_URL", DEFAULT_URL),
        help="the gateway (default: $WR_GATEWAY_URL or %(default)s)",
    )
    common.add_argument("--prefix", default=os.environ.get("WR_PREFIX", "/_wr"))
    common.add_argument("--json", action="store_true", help="print the API's JSON answer")
    common.add_argument("--actor", default=_default_actor(), help="name in the audit log")
    common.add_argument("--timeout", type=float, default=10.0)
    admin = sub.add_parser(
        "admin",
        help="operate a running gateway (token from WR_ADMIN_TOKEN)",
        description=__doc__.split("\n")[0],
    )
    commands = admin.add_subparsers(dest="admin_command", required=True)
    commands.add_parser("status", parents=[common], help="the room now")
    p_set = commands.add_parser("set", parents=[common], help="change the room config")
    p_set.add_argument("--rate", dest="rate_per_minute", type=int, help="admissions per minute")
    p_set.add_argument("--max-active", type=int, help="cap on live sessions")
    p_set.add_argument("--session-lifetime", type=int, help="seconds")
    p_set.add_argument("--grace-period", type=int, help="seconds")
    p_set.add_argument("--mode", choices=("queue", "pause", "closed", "passthrough"))
    p_set.add_argument("--version", type=int, help="refuse (409) unless the config is at this")
    for name, text in (
        ("pause", "stop admitting (the line keeps its places)"),
        ("resume", "admit again (mode queue)"),
        ("close", "close the room to newcomers"),
        ("open-now", "clear the opening time and admit (mode queue)"),
    ):
        commands.add_parser(name, parents=[common], help=text)
    p_at = commands.add_parser("open-at", parents=[common], help="schedule the opening")
    p_at.add_argument("when", help="ISO 8601 with an offset, e.g. 2026-12-01T08:00+07:00")
    p_audit = commands.add_parser("audit", parents=[common], help="the latest config changes")
    p_audit.add_argument("--limit", type=int, default=20)
    p_reset = commands.add_parser("reset", parents=[common], help="start the event over")
    p_reset.add_argument("--confirm", required=True, metavar="EVENT", help="the event id")
    admin.set_defaults(func=run)
