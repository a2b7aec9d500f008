"""Who runs out of CPU first: per-process CPU samples while a replay runs (psutil, a thread).

Each role (gateway, redis, backend stub, locust) is a process and its children (the gateway's
uvicorn workers, Locust's ``--processes`` workers). Every process here runs one Python (or
Redis) thread of work, so one process near 100 % of a core is saturated whatever the machine's
other cores do; the machine itself is saturated near ``100 % x cores``.
"""

from __future__ import annotations

import csv
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

SATURATED = 90.0  # percent of one core
SUSTAINED = 3  # consecutive samples


@dataclass
class CpuSampler:
    roles: dict[str, list[int]]
    interval: float = 1.0
    rows: list[tuple[float, str, int, float]] = field(default_factory=list)  # t, role, pid, %
    machine: list[tuple[float, float]] = field(default_factory=list)  # t, % of all cores
    _procs: dict[int, psutil.Process] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def add(self, role: str, pid: int) -> None:
        self.roles.setdefault(role, []).append(pid)

    def start(self) -> CpuSampler:
        psutil.cpu_percent(None)
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _processes(self, role: str) -> list[psutil.Process]:
        found: list[psutil.Process] = []
        for pid in self.roles.get(role, []):
            try:
                root = psutil.Process(pid)
                family = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            for proc in family:
                cached = self._procs.setdefault(proc.pid, proc)
                if not any(p.pid == cached.pid for p in found):
                    found.append(cached)
        return found

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            now = time.time()
            self.machine.append((now, psutil.cpu_percent(None) * psutil.cpu_count()))
            for role in list(self.roles):
                for proc in self._processes(role):
                    try:
                        # The first reading of a new process is 0 (no interval yet): it warms up.
                        self.rows.append((now, role, proc.pid, proc.cpu_percent(None)))
                    except psutil.Error:
                        continue

    def write_csv(self, path: Path) -> None:
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["t", "role", "pid", "cpu_percent"])
            writer.writerows(self.rows)

    def summary(self, since: float = 0.0, until: float = float("inf")) -> list[dict[str, object]]:
        """Per role: mean and p95 of the role's total, the busiest process, and when a process
        of the role first stayed at or above 90 % of a core for three samples."""
        out: list[dict[str, object]] = []
        for role in self.roles:
            rows = [r for r in self.rows if r[1] == role and since <= r[0] <= until]
            if not rows:
                continue
            times = sorted({r[0] for r in rows})
            totals = [sum(r[3] for r in rows if r[0] == t) for t in times]
            per_pid: dict[int, list[tuple[float, float]]] = {}
            for t, _, pid, pct in rows:
                per_pid.setdefault(pid, []).append((t, pct))
            busiest = max(per_pid, key=lambda p: statistics.mean(v for _, v in per_pid[p]))
            first: float | None = None
            for series in per_pid.values():
                streak = 0
                for t, pct in series:
                    streak = streak + 1 if pct >= SATURATED else 0
                    if streak >= SUSTAINED and (first is None or t < first):
                        first = t
                        break
            ordered = sorted(totals)
            out.append(
                {
                    "role": role,
                    "processes": len(per_pid),
                    "mean": statistics.mean(totals),
                    "p95": ordered[max(0, int(0.95 * len(ordered)) - 1)],
                    "max_process_mean": statistics.mean(v for _, v in per_pid[busiest]),
                    "max_process_peak": max(v for _, v in per_pid[busiest]),
                    "saturated_at": first,
                }
            )
        return out

    def markdown(self, since: float = 0.0, until: float = float("inf")) -> str:
        machine = [pct for t, pct in self.machine if since <= t <= until]
        cores = psutil.cpu_count() or 1
        mean = statistics.mean(machine) if machine else 0.0
        lines = [
            "## CPU (percent of one core)",
            "",
            f"Machine: {cores} cores; all processes together: mean "
            f"{mean:.0f} %, peak {max(machine, default=0):.0f} % "
            f"of {100 * cores} %.",
            "",
            "| role | processes | total mean | total p95 | busiest process mean | its peak "
            "| saturated (>= 90 % for 3 s) |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for row in self.summary(since, until):
            at = row["saturated_at"]
            when = "never" if at is None else f"{float(at) - since:.0f} s into the surge"  # type: ignore[arg-type]
            lines.append(
                f"| {row['role']} | {row['processes']} | {row['mean']:.0f} | {row['p95']:.0f} | "
                f"{row['max_process_mean']:.0f} | {row['max_process_peak']:.0f} | {when} |"
            )
        return "\n".join(lines) + "\n"
