"""Running wrk (pinned to the load generator's core) with bench/lua/bench.lua, and its results."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

SCRIPT = Path(__file__).resolve().parent / "lua" / "bench.lua"
INSTALL_HINT = (
    "wrk is not installed: `make bench` installs Debian's package when run as root "
    "(apt-get install wrk); otherwise install it yourself"
)
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
JSON_ACCEPT = "application/json"


class WrkMissing(RuntimeError):
    pass


def wrk_binary() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkMissing(INSTALL_HINT)
    return path


@dataclass(frozen=True)
class Load:
    """One wrk run's request: what bench.lua is told through its environment."""

    url: str
    method: str = "GET"
    accept: str = BROWSER_ACCEPT
    cookie: str | None = None
    tokens: Path | None = None
    token_cookie: str = "wr_ticket"
    expect: str | None = None
    field: str | None = None
    stop_after: int = 0

    def env(self) -> dict[str, str]:
        parts = urlsplit(self.url)
        env = {
            "BENCH_METHOD": self.method,
            "BENCH_PATH": (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
            "BENCH_ACCEPT": self.accept,
            "BENCH_TOKEN_COOKIE": self.token_cookie,
            "BENCH_THREADS": "1",
        }
        for name, value in (
            ("BENCH_COOKIE", self.cookie),
            ("BENCH_TOKENS", str(self.tokens) if self.tokens else None),
            ("BENCH_EXPECT", self.expect),
            ("BENCH_FIELD", self.field),
            ("BENCH_STOP_AFTER", str(self.stop_after) if self.stop_after else None),
        ):
            if value:
                env[name] = value
        return env


@dataclass
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: dict[str, int]
    unexpected: int
    reused: int
    field_sum: float
    field_count: int
    loadgen_cpu: float  # share of one core the load generator used
    server_cpu: float = 0.0  # share of one core the server under test used (set by the caller)
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def failures(self) -> int:
        return sum(self.errors.values()) + self.unexpected


def run_wrk(
    load: Load, seconds: float, connections: int, cpu: int, timeout_s: float = 5.0
) -> WrkResult:
    """Run wrk for ``seconds`` (one thread, ``connections`` keep-alive connections) on ``cpu``."""
    parts = urlsplit(load.url)
    target = f"{parts.scheme}://{parts.netloc}"
    args = [
        "taskset", "-c", str(cpu), wrk_binary(),
        "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", f"--timeout={timeout_s:g}s",
        "-s", str(SCRIPT), target,
    ]  # fmt: skip
    env = {**os.environ, **load.env()}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    lines: list[str] = []
    for text in process.stdout:
        lines.append(text.rstrip("\n"))
        if text.startswith("BENCH_STOPPED"):
            # A fixed-size run is complete: SIGINT makes wrk stop waiting and report.
            process.send_signal(signal.SIGINT)
    stderr = process.stderr.read() if process.stderr else ""
    returncode = process.wait(timeout=30)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((x for x in lines if x.startswith("BENCH_RESULT ")), None)
    if returncode != 0 or line is None:
        output = "\n".join(lines)
        raise RuntimeError(f"wrk failed ({returncode}):\n{output}\n{stderr}")
    raw = json.loads(line.removeprefix("BENCH_RESULT "))
    elapsed = raw["duration_us"] / 1e6
    cpu_used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    latency = raw["latency_us"]
    return WrkResult(
        requests=raw["requests"],
        seconds=elapsed,
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        errors={k: int(v) for k, v in raw["errors"].items()},
        unexpected=int(raw.get("unexpected", 0)),
        reused=int(raw.get("reused", 0)),
        field_sum=float(raw.get("field_sum", 0)),
        field_count=int(raw.get("field_count", 0)),
        loadgen_cpu=cpu_used / elapsed if elapsed else 0.0,
    )
