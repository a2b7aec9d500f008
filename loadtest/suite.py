"""The replay's wiring into Locust's events, for the local runner, the master and the workers.

    init           nodes (local, worker): a ``Node``; master (and local): the records handler
    test_start     nodes: start a new set of people; master: reset the backend stub's stats,
                   start sampling the gateway and the stub
    test_stopping  nodes: no more arrivals; master: ask every worker to finish (stop its users
                   and send all its records) and wait for them, and for their last statistics
    test_stop      nodes: report everyone; master: the verdict, the plot and the summary
    quitting       master: ``environment.process_exit_code`` = 0 if the verdict is green, else 1

The verdict is always computed where the whole picture is: on the master (or the local runner),
from the records every worker sent with ``runner.send_message``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import gevent
from locust.env import Environment
from locust.rpc import Message
from locust.runners import STATE_MISSING, STATE_STOPPED, LocalRunner, MasterRunner, WorkerRunner

from loadtest import report
from loadtest.node import ARRIVE, FINISH, RECORDS, Node, Plan
from loadtest.records import Record
from loadtest.sampler import Sampler, gateway_config, reset_stub, stub_stats
from loadtest.settings import Settings, add_options
from loadtest.verdict import Check, Verdict, judge

log = logging.getLogger("loadtest.suite")

__all__ = [
    "add_options",
    "node_of",
    "on_init",
    "on_quitting",
    "on_test_start",
    "on_test_stop",
    "on_test_stopping",
]


class Conductor:
    """What one Locust process keeps for the replay (hung on its Environment)."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        runner = environment.runner
        self.is_master = isinstance(runner, MasterRunner | LocalRunner)
        self.is_node = isinstance(runner, WorkerRunner | LocalRunner)
        self.node = Node(environment, self.settings) if self.is_node else None
        self.records: dict[int, Record] = {}
        self.finals: dict[str, float] = {}  # worker -> when its final records arrived
        self.pauses: dict[str, dict[str, float]] = {}  # node -> its garbage collector's pauses
        self.reports: dict[str, float] = {}  # worker -> when its last statistics arrived
        self.sampler: Sampler | None = None
        self.gateway_config: dict[str, Any] | None = None
        self.verdict: Verdict | None = None
        self.files: dict[str, str] = {}

    @property
    def settings(self) -> Settings:
        return Settings.from_options(self.environment.parsed_options)


def conductor(environment: Environment) -> Conductor:
    found: Conductor | None = getattr(environment, "surge_conductor", None)
    if found is None:
        found = Conductor(environment)
        environment.surge_conductor = found  # type: ignore[attr-defined]
    return found


def node_of(environment: Environment) -> Node:
    node = conductor(environment).node
    assert node is not None, "this process generates no load"
    return node


# -- messages --------------------------------------------------------------------------------


def _on_arrive(environment: Environment, msg: Message, **_: Any) -> None:
    plans = [(row[0], Plan(*row[1:])) for row in msg.data["plans"]]
    node_of(environment).arrive(plans)


def _on_finish(environment: Environment, msg: Message, **_: Any) -> None:
    node = node_of(environment)
    node.stop_arrivals()
    runner = environment.runner
    if runner is not None and runner.state != STATE_STOPPED:
        runner.stop()  # fires test_stop here, which reports everyone
    else:
        node.finish()


def _on_records(environment: Environment, msg: Message, **_: Any) -> None:
    c = conductor(environment)
    for row in msg.data["rows"]:
        record = Record.from_row(row)
        c.records[record.id] = record
    if msg.data.get("final"):
        c.finals[msg.node_id] = time.monotonic()
        c.pauses[str(msg.data.get("node"))] = msg.data.get("pauses", {})


# -- events ----------------------------------------------------------------------------------


def on_init(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    if runner is None:
        return
    c = conductor(environment)
    if isinstance(runner, WorkerRunner):
        runner.register_message(ARRIVE, _on_arrive)
        runner.register_message(FINISH, _on_finish, concurrent=True)
    if c.is_master:
        runner.register_message(RECORDS, _on_records)
    if isinstance(runner, MasterRunner):

        def on_worker_report(client_id: str, data: dict[str, Any]) -> None:
            c.reports[client_id] = time.monotonic()

        environment.events.worker_report.add_listener(on_worker_report)


def on_test_start(environment: Environment, **_: Any) -> None:
    c = conductor(environment)
    settings = c.settings
    if c.node is not None:
        c.node.settings = settings
        c.node.finishing = False
        c.node.start()
    if c.is_master:
        c.records.clear()
        c.finals.clear()
        c.pauses.clear()
        c.verdict = None
        if not reset_stub(settings.backend_url):
            log.warning("could not reset the backend stub at %s", settings.backend_url)
        gateway = None if settings.direct else environment.host
        c.gateway_config = None
        if gateway and settings.admin_token:
            c.gateway_config = gateway_config(gateway, settings.admin_token)
            if c.gateway_config is None:
                log.warning("could not read the room config from %s/_wr/admin/api/config", gateway)
        c.sampler = Sampler(gateway, settings.backend_url)
        c.sampler.start()


def on_test_stopping(environment: Environment, **_: Any) -> None:
    c = conductor(environment)
    if c.node is not None:
        c.node.finishing = True
        c.node.stop_arrivals()
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        _collect_from_workers(c, runner)


def _collect_from_workers(c: Conductor, runner: MasterRunner) -> None:
    workers = {w.id for w in runner.clients.values() if w.state != STATE_MISSING}
    asked = time.monotonic()
    runner.send_message(FINISH, {})
    deadline = asked + c.settings.finish_timeout

    def complete() -> bool:
        # Each worker's final records, then a statistics report sent after them.
        return all(w in c.finals and c.reports.get(w, 0) > c.finals[w] for w in workers)

    while time.monotonic() < deadline and not complete():
        gevent.sleep(0.1)
    missing = sorted(w for w in workers if w not in c.finals)
    if missing:
        log.error("no final records from %d worker(s): %s", len(missing), ", ".join(missing))
    log.info(
        "collected %d records from %d worker(s) in %.1f s",
        len(c.records),
        len(workers),
        time.monotonic() - asked,
    )


def on_test_stop(environment: Environment, **_: Any) -> None:
    c = conductor(environment)
    if c.node is not None:
        c.node.finish()
    if c.is_master:
        if c.sampler is not None:
            c.sampler.stop()
        try:
            conclude(c)
        except Exception:
            log.exception("could not compute the verdict")


def on_quitting(environment: Environment, **_: Any) -> None:
    c = conductor(environment)
    if c.is_master and c.verdict is not None:
        environment.process_exit_code = 0 if c.verdict.green else 1


# -- the verdict -----------------------------------------------------------------------------


def locust_stats(environment: Environment) -> dict[str, Any]:
    """Locust's statistics (on the master: aggregated over the workers) as plain data."""
    stats = environment.stats
    entries = {}
    for (name, method), e in stats.entries.items():
        entries[name if name not in entries else f"{method} {name}"] = {
            "method": method,
            "num_requests": e.num_requests,
            "num_failures": e.num_failures,
            "p50": e.get_response_time_percentile(0.50) if e.num_requests else None,
            "p95": e.get_response_time_percentile(0.95) if e.num_requests else None,
            "p99": e.get_response_time_percentile(0.99) if e.num_requests else None,
            "max": e.max_response_time if e.num_requests else None,
        }
    errors = [
        {"method": e.method, "name": e.name, "error": str(e.error), "occurrences": e.occurrences}
        for e in sorted(stats.errors.values(), key=lambda e: -e.occurrences)
    ]
    total = stats.total
    return {
        "entries": entries,
        "errors": errors,
        "total": {
            "num_requests": total.num_requests,
            "num_failures": total.num_failures,
            "rps": total.total_rps,
        },
    }


def conclude(c: Conductor) -> Verdict:
    settings = c.settings
    config = c.gateway_config or {}
    if settings.admission_rate <= 0 and isinstance(config.get("rate_per_minute"), int):
        settings = replace(settings, admission_rate=config["rate_per_minute"])
    environment = c.environment
    records = list(c.records.values())
    samples = c.sampler.samples if c.sampler is not None else []
    stub = stub_stats(settings.backend_url)
    shape = environment.shape_class
    planned = int(getattr(shape, "dispatched", 0) or 0)
    verdict = judge(records, samples, locust_stats(environment), stub, settings, planned)
    verdict.figures["load_generator_gc_pauses"] = c.pauses
    if config:
        verdict.figures["gateway_config"] = config
    elif settings.admin_token and settings.admission_rate <= 0 and not settings.direct:
        name = "admissions per minute (during the backlog)"
        verdict.checks = [c for c in verdict.checks if c.name != name]
        verdict.checks.append(Check(name, False, "the gateway's config could not be read"))
    directory = Path(settings.report_dir or Path("reports") / time.strftime("%Y%m%d-%H%M%S"))
    c.files = report.write(
        directory,
        verdict,
        records,
        samples,
        (stub or {}).get("capacity"),
        settings.surge_scale,
        settings.surge_duration,
    )
    c.verdict = verdict
    width = max(len(check.name) for check in verdict.checks)
    lines = [f"surge replay verdict: {'GREEN' if verdict.green else 'RED'}"]
    for check in verdict.checks:
        result = "n/a " if check.ok is None else ("pass" if check.ok else "FAIL")
        lines.append(
            f"  {result}  {check.name:<{width}}  {check.value}  (limit {check.limit or '-'})"
        )
    lines.append(f"  report: {c.files['summary']}  plot: {c.files['plot']}")
    log.info("\n".join(lines))
    return verdict
