"""The waiting page in a real headless Chromium: a browser without a pass sees its position, the
page updates by itself, and the browser lands on the backend page once admitted."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
import pytest

from tests.browser import LAUNCH_ARGS, require_chromium
from tests.e2e.conftest import ROOT, Proc, start_gateway
from waitingroom.embedded import EmbeddedRedis

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_waiting_page_updates_itself_and_lets_the_browser_in(
    tmp_path: Path, redis_server: EmbeddedRedis, backend: Proc
) -> None:
    chromium = require_chromium()
    from playwright.sync_api import sync_playwright

    gateway = start_gateway(
        tmp_path, redis_server.url, backend.url, rate_per_minute="20", max_active="100"
    )
    ahead = [httpx.Client(base_url=gateway.url, timeout=5) for _ in range(2)]
    try:
        for client in ahead:
            client.post("/_wr/join")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS)
            page = browser.new_page(locale="id-ID")
            response = page.goto(gateway.url + "/register")
            assert response is not None
            assert response.headers["x-wr-status"] == "waiting"
            assert len(response.body()) < 20_000
            page.screenshot(path=str(tmp_path / "waiting.png"), full_page=True)
            position = page.locator("#position").inner_text()
            assert position == "3"
            assert page.locator("#live").get_attribute("aria-live") == "polite"
            first_update = page.locator("#updated").inner_text()
            # The page polls by itself (JavaScript), without reloading.
            page.wait_for_function(
                f"document.getElementById('updated') && "
                f"document.getElementById('updated').textContent !== {first_update!r}",
                timeout=15_000,
            )
            # ... and once admitted it reloads into the site, on the same URL.
            page.wait_for_selector("form input[name=email]", timeout=30_000)
            assert page.url == gateway.url + "/register"
            cookies = {c["name"]: c for c in page.context.cookies()}
            assert cookies["wr_pass"]["httpOnly"] is True
            assert cookies["wr_pass"]["sameSite"] == "Lax"
            page.screenshot(path=str(tmp_path / "admitted.png"), full_page=True)
            browser.close()
        reports = ROOT / "reports"
        reports.mkdir(exist_ok=True)
        shutil.copy(tmp_path / "waiting.png", reports / "waiting-page.png")
    finally:
        for client in ahead:
            client.close()
        gateway.stop()


def test_waiting_page_without_javascript_refreshes_itself_into_the_site(
    tmp_path: Path, redis_server: EmbeddedRedis, backend: Proc
) -> None:
    chromium = require_chromium()
    from playwright.sync_api import sync_playwright

    gateway = start_gateway(tmp_path, redis_server.url, backend.url, rate_per_minute="30")
    ahead = httpx.Client(base_url=gateway.url, timeout=5)
    try:
        ahead.post("/_wr/join")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS)
            context = browser.new_context(java_script_enabled=False, locale="en-US")
            page = context.new_page()
            loads: list[float] = []
            page.on("load", lambda _: loads.append(time.monotonic()))
            page.goto(gateway.url + "/register")
            assert "Your place in line" in page.content()
            # The meta refresh reloads the page at the advised interval until the turn comes.
            page.wait_for_selector("form input[name=email]", timeout=30_000)
            assert len(loads) >= 2
            assert page.url == gateway.url + "/register"
            browser.close()
    finally:
        ahead.close()
        gateway.stop()


def test_an_expired_turn_is_explained_in_place_with_a_way_back_in_line(
    tmp_path: Path, redis_server: EmbeddedRedis, backend: Proc
) -> None:
    chromium = require_chromium()
    from playwright.sync_api import Route, sync_playwright

    # One admission every 3 s and three people ahead: the page's first poll comes after the
    # minimum interval (2 s), before its turn.
    gateway = start_gateway(tmp_path, redis_server.url, backend.url, rate_per_minute="20")
    ahead = httpx.Client(base_url=gateway.url, timeout=5)
    try:
        for _ in range(3):
            ahead.cookies.clear()
            ahead.post("/_wr/join")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS)
            page = browser.new_page(locale="en-US")
            page.goto(gateway.url + "/register")
            assert page.locator("#position").inner_text() == "4"
            polls: list[str] = []

            def expired(route: Route) -> None:
                # What /_wr/status answers once the turn passed more than a grace period ago.
                polls.append(route.request.url)
                route.fulfill(
                    status=200,
                    content_type="application/json",
                    body='{"status":"expired","event":"e","position":4,"ahead":0,'
                    '"eta_seconds":null,"poll_after_seconds":0}',
                )

            page.route("**/_wr/status", expired)
            page.wait_for_selector("text=Your turn has passed", timeout=30_000)
            # Explained in place, not reloaded into a fresh place at the back.
            assert page.url == gateway.url + "/register"
            assert len(polls) == 1
            page.unroute("**/_wr/status")
            page.context.clear_cookies()  # as the real expired answer does (Set-Cookie)
            page.click("button[type=submit]")
            page.wait_for_selector("#position", timeout=10_000)
            assert int(page.locator("#position").inner_text()) > 4  # a new place, at the back
            browser.close()
    finally:
        ahead.close()
        gateway.stop()
