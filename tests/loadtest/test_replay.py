"""The surge replay end to end: real processes (embedded Redis, backend stub, gateway) on free
ports, and Locust itself in a subprocess, for a few seconds of a small surge.

Checks that a verdict, a plot and the summary come out; that an injected failure (admitting far
more than the backend's registry can take) turns the verdict red; and that the same locustfile
runs distributed, with ``--processes`` and as a master with separate workers, the verdict
computed on the master from every worker's people.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loadtest.curve import SurgeCurve
from loadtest.stack import ADMIN_TOKEN, ROOT, Capacity, Stack
from waitingroom.embedded import free_port

pytestmark = pytest.mark.e2e

# Generous limits: this machine is shared with other test runs; the point here is the plumbing.
RELAXED = ["--p50-ms", "500", "--p95-ms", "3000", "--p99-ms", "5000", "--think-time", "0.2"]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("SURGE_", "LOCUST_"))}


def replay_command(stack: Stack, report: Path, scale: float, duration: float) -> list[str]:
    return [
        sys.executable, "-m", "locust",
        "-f", str(ROOT / "locustfile.py"),
        "--headless", "--only-summary",
        "--host", stack.target_url,
        "--backend-url", stack.backend_url,
        "--admission-rate", str(stack.capacity.rate_per_minute),
        "--surge-scale", str(scale),
        "--surge-duration", str(duration),
        "--report-dir", str(report),
        *RELAXED,
    ]  # fmt: skip


def run(command: list[str], log: Path, timeout: float = 90, **env: str) -> int:
    with log.open("wb") as out:
        return subprocess.run(
            command,
            cwd=ROOT,
            env={**_env(), **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
        ).returncode


def verdict_of(report: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((report / "verdict.json").read_text())
    return data


def failed(verdict: dict[str, Any]) -> set[str]:
    return {c["name"] for c in verdict["checks"] if c["ok"] is False}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # A fast registry, and more admissions than arrivals: the queue stays short between runs.
    capacity = Capacity(rate_per_minute=600, nik_capacity=8, nik_latency_ms=50, max_active=1000)
    with Stack(tmp_path_factory.mktemp("stack"), capacity) as running:
        yield running


def test_a_short_replay_gives_a_green_verdict_a_plot_and_a_summary(
    stack: Stack, tmp_path: Path
) -> None:
    report = tmp_path / "report"
    # -t cuts the 20 s curve after 5 s (the ramp and the start of the hold).
    command = [*replay_command(stack, report, scale=0.02, duration=20), "-t", "5s"]
    command += ["--html", str(report / "locust.html"), "--csv", str(report / "locust")]
    # No --admission-rate: the rate is read from the gateway's admin API.
    command.remove("--admission-rate")
    command.remove(str(stack.capacity.rate_per_minute))
    code = run(command, tmp_path / "locust.log", SURGE_ADMIN_TOKEN=ADMIN_TOKEN)
    log = (tmp_path / "locust.log").read_text()
    verdict = verdict_of(report)
    assert verdict["green"], (failed(verdict), log[-3000:])
    assert code == 0
    figures = verdict["figures"]
    assert figures["gateway_config"]["rate_per_minute"] == 600
    assert figures["admission"]["configured_per_minute"] == 600
    assert figures["planned_arrivals"] == pytest.approx(SurgeCurve(0.02, 20).expected(5), abs=30)
    assert figures["arrived"] >= 30
    assert figures["nodes"] == [0]
    assert figures["applicant_requests"] > figures["arrived"]
    assert figures["backend"]["funnel"]["registered"] > 0
    png = (report / "surge.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
    summary = (report / "summary.md").read_text()
    assert summary.startswith("# Surge replay: verdict GREEN")
    assert "| applicants lost | 0 | 0 | pass |" in summary
    assert (report / "locust.html").stat().st_size > 0
    assert (report / "locust_stats.csv").read_text().count("/_wr/status") == 1
    people = (report / "people.csv").read_text().splitlines()
    assert len(people) == 1 + figures["arrived"] + figures["attackers"] + figures["states"].get(
        "scheduled", 0
    )
    assert "Traceback" not in log


def test_admitting_more_than_the_registry_can_take_turns_the_verdict_red(tmp_path: Path) -> None:
    # The injected failure: an admission rate far above what one slow NIK call slot can serve.
    capacity = Capacity(rate_per_minute=60_000, nik_capacity=1, nik_latency_ms=500, max_active=5000)
    overrides = {"STUB_NIK_TIMEOUT": "0.2", "STUB_NIK_SIGMA": "0"}
    with Stack(tmp_path / "stack", capacity, stub_overrides=overrides) as broken:
        report = tmp_path / "report"
        command = [*replay_command(broken, report, scale=0.02, duration=6), "--think-time", "0.05"]
        code = run(command, tmp_path / "locust.log")
    verdict = verdict_of(report)
    assert code == 1
    assert not verdict["green"]
    expected = {"backend overload rejections (503 + 504)", "applicant requests failed"}
    assert expected <= failed(verdict)
    assert verdict["figures"]["backend"]["timeout_504"] > 0
    assert (report / "surge.png").exists()
    assert "verdict RED" in (report / "summary.md").read_text()


def test_with_processes_the_master_judges_every_workers_people(
    stack: Stack, tmp_path: Path
) -> None:
    report, port = tmp_path / "report", str(free_port())
    command = replay_command(stack, report, scale=0.01, duration=3)
    command += ["--processes", "2", "--master-bind-port", port, "--master-port", port]
    code = run(command, tmp_path / "locust.log")
    log = (tmp_path / "locust.log").read_text()
    verdict = verdict_of(report)
    assert verdict["green"], (failed(verdict), log[-3000:])
    assert code == 0
    assert verdict["figures"]["nodes"] == [0, 1]
    assert "from 2 worker(s)" in log
    assert log.count("surge replay verdict") == 1  # on the master only


def test_master_and_separate_workers(stack: Stack, tmp_path: Path) -> None:
    report, port = tmp_path / "report", str(free_port())
    master = replay_command(stack, report, scale=0.01, duration=3)
    master += ["--master", "--expect-workers", "2", "--master-bind-port", port]
    # Workers need nothing but the locustfile: the master sends them its options.
    worker = [sys.executable, "-m", "locust", "-f", str(ROOT / "locustfile.py"), "--worker"]
    worker += ["--master-port", port]
    logs = [tmp_path / f"worker{i}.log" for i in range(2)]
    workers = []
    for log in logs:
        with log.open("wb") as out:
            workers.append(
                subprocess.Popen(worker, cwd=ROOT, env=_env(), stdout=out, stderr=subprocess.STDOUT)
            )
    try:
        code = run(master, tmp_path / "master.log")
        for process in workers:
            assert process.wait(timeout=30) == 0
    finally:
        for process in workers:
            if process.poll() is None:
                process.kill()
                process.wait()
    verdict = verdict_of(report)
    assert verdict["green"], (failed(verdict), (tmp_path / "master.log").read_text()[-3000:])
    assert code == 0
    assert verdict["figures"]["nodes"] == [0, 1]
    for log in logs:
        assert "reported" in log.read_text()  # each worker sent its people to the master
        assert "surge replay verdict" not in log.read_text()
