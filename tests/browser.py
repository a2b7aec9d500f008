"""Chromium for browser tests: Debian's package driven by Playwright (never `playwright install`).

Without a Chromium the browser tests skip, loudly; with ``CI=true`` they fail instead, so a CI
runner that lost its browser never passes silently.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = "apt-get update && apt-get install -y chromium (as root)"


def chromium_path() -> str | None:
    """$WR_CHROMIUM, else the first Chromium found; None when there is none."""
    configured = os.environ.get("WR_CHROMIUM")
    candidates = [configured] if configured else [*CANDIDATES, shutil.which("chromium")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def require_chromium() -> str:
    """The Chromium path; skips the test without one (fails when CI=true)."""
    path = chromium_path()
    if path is not None:
        return path
    reason = f"NO CHROMIUM: browser test not run. Install it: {INSTALL_HINT}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)
