"""The processes under test, started on free loopback ports and pinned to a core.

Every server is started through its real entry point (``gateway serve``, ``backend-stub``, the
embedded Redis), so the benchmark measures what ships. Processes can be moved between cores while
they run (``pin``): the one under test gets the server core, the rest wait on the other one.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from gateway.processes import Child, clean_env, start_child
from waitingroom.embedded import free_port

ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def two_cpus() -> tuple[int, int]:
    """(server core, load generator core): the first two CPUs this process may use."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise RuntimeError(f"the benchmark needs two CPUs (one server, one load); have {cpus}")
    return cpus[0], cpus[1]


def pin(pid: int, cpu: int) -> None:
    """Move every thread of ``pid`` to ``cpu`` (threads started later inherit it)."""
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except FileNotFoundError:
        return
    for tid in tids:
        with contextlib.suppress(ProcessLookupError, PermissionError):  # a thread that ended
            os.sched_setaffinity(tid, {cpu})


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (all its threads) so far."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rpartition(")")[2].split()
    # Fields 14 and 15 of proc(5) (utime, stime); the split starts at field 3.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


# A child process of the benchmark: gateway.processes' Child, stopped within 10 s.
Server = Child


def start(
    name: str,
    args: list[str],
    env: dict[str, str],
    port: int,
    ready_path: str,
    log_dir: Path,
    cpu: int,
    timeout: float = 30.0,
    root: Path = ROOT,
) -> Server:
    server = start_child(
        name,
        args,
        env,
        f"http://127.0.0.1:{port}",
        ready_path,
        log_dir / f"{name}.log",
        root,
        timeout,
        on_spawn=lambda pid: pin(pid, cpu),
    )
    server.stop_timeout = 10.0
    pin(server.pid, cpu)  # threads started while it came up
    return server


def start_backend(log_dir: Path, cpu: int) -> Server:
    """The backend stub with its simulated service time and capacity limits off: the page costs
    what rendering it costs, nothing more (the ceiling for the proxied path)."""
    port = free_port()
    args = [
        sys.executable,
        "-c",
        "from backend_stub.cli import main; main()",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--service-ms",
        "0",
        "--service-jitter",
        "0",
        "--queue-penalty-ms",
        "0",
        "--capacity",
        "100000",
        "--queue-limit",
        "100000",
        "--seed",
        "1",
    ]
    return start("backend", args, clean_env(), port, "/", log_dir, cpu)


def start_baselines(redis_url: str, log_dir: Path, cpu: int) -> Server:
    port = free_port()
    args = [sys.executable, "-m", "bench.baseline_app", "--port", str(port)]
    args += ["--redis-url", redis_url]
    return start("baselines", args, clean_env(), port, "/ok", log_dir, cpu)


def start_gateway(
    name: str,
    redis_url: str,
    backend_url: str,
    secret: str,
    log_dir: Path,
    cpu: int,
    root: Path = ROOT,
    **settings: str,
) -> Server:
    """``gateway serve`` with one uvicorn worker, from the tree ``root`` (its working
    directory comes first on ``sys.path``: another checkout's code runs in this venv)."""
    port = free_port()
    env = clean_env(
        WR_REDIS_URL=redis_url,
        WR_BACKEND_URL=backend_url,
        WR_SECRET_KEYS=secret,
        WR_DATA_DIR=str(log_dir / f"{name}-data"),
        **{f"WR_{k.upper()}": v for k, v in settings.items()},
    )
    args = [sys.executable, "-c", "from gateway.cli import main; main()", "serve"]
    args += ["--port", str(port), "--workers", "1", "--log-level", "warning"]
    return start(name, args, env, port, "/_wr/healthz", log_dir, cpu, root=root)
