"""Child processes of the project's own servers, for the tools that start a whole stack (the
end-to-end tests, ``make bench``, ``make surge``): each started with its output in a log file,
waited on until it answers over loopback HTTP, and stopped with SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    stop_timeout: float = 25.0

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float | None = None) -> int:
        """Send ``sig``, wait up to ``timeout`` (default: stop_timeout), then kill."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(self.stop_timeout if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any WR_ or STUB_ setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WR_", "STUB_"))}
    env.update(extra)
    return env


def answers(url: str) -> bool:
    """True when ``url`` (loopback) answers with a status below 500."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - http, loopback
            return bool(response.status < 500)
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except (urllib.error.URLError, OSError):
        return False


def start_child(
    name: str,
    args: list[str],
    env: dict[str, str],
    url: str,
    ready_path: str,
    log: Path,
    cwd: Path,
    timeout: float = 30.0,
    on_spawn: Callable[[int], None] | None = None,
) -> Child:
    """Start ``args`` with its output in ``log`` and wait until ``url + ready_path`` answers.

    ``on_spawn`` gets the pid at once (to pin it to a core, say). A child that exits or does not
    answer within ``timeout`` is killed, and a RuntimeError carries its output.
    """
    with log.open("wb") as handle:
        process = subprocess.Popen(  # noqa: S603 - our own entry points
            args, env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=cwd
        )
    child = Child(name, process, url, log)
    if on_spawn is not None:
        on_spawn(process.pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{child.output()}")
        if answers(url + ready_path):
            return child
        time.sleep(0.1)
    child.stop(signal.SIGKILL)
    raise RuntimeError(f"{name} not ready after {timeout} s:\n{child.output()}")
