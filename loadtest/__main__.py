"""``python -m loadtest``: the whole surge replay on one machine (what ``make surge`` runs).

Starts the stack on free loopback ports, sized for the scale (``loadtest.stack.Capacity``),
runs the headless replay (``locustfile.py``) against it, samples every process's CPU, writes the
report to ``reports/<timestamp>/`` (Locust's HTML and CSV, the plot, the summary with a CPU
section, the processes' logs), stops the stack and exits with the verdict: 0 green, 1 red.

``--direct`` replays the same arrivals straight at the backend stub, without the gateway, to
show it breaking; with ``--expect-red`` (what ``make surge-direct`` uses) the exit code says
whether it did break (0) or unexpectedly held (1).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from loadtest.cpu import CpuSampler
from loadtest.stack import ADMIN_TOKEN, ROOT, Capacity, Stack
from waitingroom.embedded import free_port


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtest", description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=0.02, help="1.0 = 80,000 arrivals a minute")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of arrivals")
    parser.add_argument("--direct", action="store_true", help="no gateway: straight at the stub")
    parser.add_argument("--expect-red", action="store_true", help="exit 0 if the verdict is red")
    parser.add_argument("--processes", type=int, default=1, help="Locust worker processes")
    parser.add_argument("--gateway-workers", type=int, default=2, help="uvicorn workers")
    parser.add_argument("--report-dir", type=Path, default=None)
    parser.add_argument("locust_args", nargs="*", help="more Locust options, after --")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    directory: Path = args.report_dir or ROOT / "reports" / (
        stamp + ("-direct" if args.direct else "")
    )
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    capacity = Capacity.for_scale(args.scale)
    print(
        f"surge replay x{args.scale:g} for {args.duration:g} s "
        f"({'direct to the backend stub' if args.direct else 'through the gateway'}): "
        f"admission rate {capacity.rate_per_minute}/min, NIK API K={capacity.nik_capacity} "
        f"median {capacity.nik_latency_ms:.0f} ms; report in {directory}",
        flush=True,
    )
    with Stack(
        directory / "stack", capacity, direct=args.direct, gateway_workers=args.gateway_workers
    ) as stack:
        command = [
            sys.executable, "-m", "locust",
            "-f", str(ROOT / "locustfile.py"),
            "--headless", "--only-summary",
            "--host", stack.target_url,
            "--backend-url", stack.backend_url,
            "--surge-scale", str(args.scale),
            "--surge-duration", str(args.duration),
            "--report-dir", str(directory),
            "--html", str(directory / "locust.html"),
            "--csv", str(directory / "locust"),
        ]  # fmt: skip
        if args.direct:
            command.append("--surge-direct")
        if args.processes > 1:
            port = str(free_port())  # not Locust's default 5557: another replay may be running
            command += ["--processes", str(args.processes)]
            command += ["--master-bind-port", port, "--master-port", port]
        command += args.locust_args
        cpu = CpuSampler(stack.pids())
        started = time.time()
        with (directory / "locust.log").open("wb") as log:
            # The rate comes from the gateway's admin API (the token in the environment, not
            # on the command line where ps would show it).
            env = {**os.environ, "SURGE_ADMIN_TOKEN": ADMIN_TOKEN}
            locust = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
            cpu.add("locust", locust.pid)
            cpu.start()
            try:
                # The shape ends the replay; this bound is for a Locust that hangs.
                code = locust.wait(timeout=args.duration + 300)
            except (KeyboardInterrupt, subprocess.TimeoutExpired):
                locust.terminate()
                code = locust.wait()
            finally:
                cpu.stop()
        ended = time.time()
    cpu.write_csv(directory / "cpu.csv")
    # The CPU figures cover the arrivals, not Locust's start or the report at the end.
    try:
        figures = json.loads((directory / "verdict.json").read_text())["figures"]
        started, ended = figures["surge_from"] or started, figures["surge_to"] or ended
    except (OSError, ValueError, KeyError):
        pass
    summary = directory / "summary.md"
    text = (
        summary.read_text() if summary.exists() else "# Surge replay: no verdict (see locust.log)\n"
    )
    summary.write_text(text + "\n" + cpu.markdown(started, ended))
    if not text.startswith("# Surge replay: verdict"):
        print((directory / "locust.log").read_text(errors="replace")[-6000:])
    print(summary.read_text())
    print(f"report: {summary}\nplot:   {directory / 'surge.png'}")
    if args.expect_red:
        print(
            "the verdict is red, as expected without the gateway"
            if code == 1
            else "expected a red verdict"
        )
        return 0 if code == 1 else 1
    return code


if __name__ == "__main__":
    sys.exit(main())
