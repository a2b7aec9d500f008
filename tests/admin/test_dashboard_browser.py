"""The dashboard in a real headless Chromium against a real two-worker gateway: log in, watch
the chart move under a small load, change the rate, see the audit entry, schedule the opening."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest

from gateway.admin.opening import iso_wib
from tests.admin.conftest import TOKEN, Live
from tests.browser import LAUNCH_ARGS, require_chromium
from tests.e2e.conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

JSON = {"accept": "application/json"}
# The charts' baseline (y of zero in a 180-high viewBox with a 22 px bottom margin).
BASELINE_Y = 158


def applicants(url: str, count: int, stop: threading.Event) -> None:
    """A small load: people join, wait their turn, then reach the backend a few times."""
    clients = []
    try:
        for _ in range(count):
            if stop.is_set():
                return
            client = httpx.Client(base_url=url, headers=JSON, timeout=5)
            clients.append(client)
            client.post("/_wr/join")
            time.sleep(0.25)
        for _ in range(40):
            for client in clients:
                if stop.is_set():
                    return
                if client.get("/_wr/status").json().get("status") == "admitted":
                    client.get("/", headers={"accept": "text/html"})
            time.sleep(0.1)
    finally:
        for client in clients:
            client.close()


def test_the_dashboard_in_a_real_browser(live: Live, tmp_path: Path) -> None:
    chromium = require_chromium()
    from playwright.sync_api import sync_playwright

    # Predicates below are functions, not expression strings: Playwright evaluates a string in
    # the page, which the dashboard's Content-Security-Policy (rightly) forbids.

    stop = threading.Event()
    load = threading.Thread(target=applicants, args=(live.url, 12, stop), daemon=True)
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on(
                "response",
                lambda r: problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None,
            )
            page.on(
                "console",
                lambda msg: (
                    problems.append(f"console: {msg.text}") if msg.type == "error" else None
                ),
            )
            page.goto(f"{live.url}/_wr/admin")
            page.fill("#token", TOKEN)
            page.fill("#name", "browser-test")
            page.click("button[type=submit]")
            page.wait_for_function("() => document.getElementById('worker').textContent.length > 4")
            page.wait_for_selector("#line-arrivals", state="attached")
            assert TOKEN not in page.content()

            # The chart moves under a small load.
            load.start()
            page.wait_for_function(
                """(baseline) => {
                    const line = document.getElementById('line-arrivals');
                    if (!line) return false;
                    const ys = line.getAttribute('points').trim().split(' ')
                        .filter(Boolean).map(p => Number(p.split(',')[1]));
                    return ys.some(y => y < baseline - 1);
                }""",
                arg=BASELINE_Y,
                timeout=15_000,
            )
            page.wait_for_function(
                "() => document.getElementById('arrival-rate').textContent !== '0'", timeout=10_000
            )

            # Change the rate: the capacity preview, the save, the audit entry.
            page.fill("#rate_per_minute", "1200")
            preview = page.text_content("#rate-preview")
            assert preview == "1,200/min = 20 registrations/s; NIK checks at 43.65 % = 8.7/s"
            page.click("#save")
            page.wait_for_function(
                "() => document.getElementById('msg').textContent.startsWith('Saved')",
                timeout=5_000,
            )
            page.wait_for_function(
                """() => {
                    const row = document.querySelector('#audit tr');
                    return row && row.textContent.includes('browser-test')
                        && row.textContent.includes('rate_per_minute: ')
                        && row.textContent.includes('→ 1200');
                }""",
                timeout=5_000,
            )
            page.wait_for_function(
                "() => document.getElementById('capacity').textContent.startsWith('1,200/min')"
            )

            # Schedule the opening an hour from now: a countdown appears.
            opens = iso_wib(time.time() + 3600)
            assert opens is not None
            page.fill("#opens_at", opens)
            page.click("#opening-form button[type=submit]")
            page.wait_for_function(
                "() => /in (00:59:|01:00:00)/.test(document.getElementById('opening').innerText)",
                timeout=5_000,
            )
            assert opens in (page.text_content("#opening") or "")
            # Admitted applicants reach the backend: admissions and backend latency show.
            page.wait_for_function(
                """() => document.getElementById('admission-rate').textContent !== '0'
                    && document.getElementById('latency').textContent.endsWith('ms')""",
                timeout=10_000,
            )
            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
            reports = ROOT / "reports"
            reports.mkdir(exist_ok=True)
            shutil.copyfile(shot, reports / "dashboard.png")

            stop.set()
            # Open now again (the button), through the API with the session and CSRF header.
            page.click("form[data-action=open-now] button")
            page.wait_for_function(
                "() => document.getElementById('opening').innerText.startsWith('Open: no')",
                timeout=5_000,
            )
        finally:
            stop.set()
            browser.close()
    assert problems == [], problems  # no script errors, no CSP violations
    assert shot.stat().st_size > 10_000
