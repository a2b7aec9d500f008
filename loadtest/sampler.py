"""About once a second, on the master: the gateway's queue (``/_wr/metrics``) and the backend
stub's load (``/_stub/stats``), for the plot and the admission-rate window.

Runs as a greenlet (Locust has monkey-patched the standard library, so ``urllib`` yields).
"""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.error
import urllib.request
from typing import Any

import gevent

log = logging.getLogger("loadtest.sampler")

_METRIC = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
GATEWAY_METRICS = (
    "wr_tail",
    "wr_serving",
    "wr_queue_length",
    "wr_active_sessions",
    "wr_admissions_total",
    "wr_arrivals_total",
    "wr_polls_total",
)


def fetch(
    url: str, timeout: float = 2.0, method: str = "GET", headers: dict[str, str] | None = None
) -> bytes | None:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return bytes(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.debug("could not fetch %s: %s", url, exc)
        return None


def parse_metrics(text: str, names: tuple[str, ...] = GATEWAY_METRICS) -> dict[str, float]:
    """Prometheus text format: the named samples, summed over their label sets."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        found = _METRIC.match(line)
        if found and found.group(1) in names:
            try:
                out[found.group(1)] = out.get(found.group(1), 0.0) + float(found.group(3))
            except ValueError:
                continue
    return out


def stub_stats(backend_url: str) -> dict[str, Any] | None:
    raw = fetch(backend_url.rstrip("/") + "/_stub/stats")
    if raw is None:
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def gateway_config(gateway_url: str, admin_token: str) -> dict[str, Any] | None:
    """The room config from the admin API (rate_per_minute, max_active, ...), or None."""
    raw = fetch(
        gateway_url.rstrip("/") + "/_wr/admin/api/config",
        headers={"Authorization": f"Bearer {admin_token}", "Accept": "application/json"},
    )
    try:
        config = json.loads(raw)["config"] if raw is not None else None
    except (ValueError, KeyError, TypeError):
        return None
    return config if isinstance(config, dict) else None


def reset_stub(backend_url: str) -> bool:
    """Clear the stub's counters, peaks and accounts, so its stats cover this replay only."""
    return fetch(backend_url.rstrip("/") + "/_stub/reset?data=1", method="POST") is not None


class Sampler:
    def __init__(self, gateway_url: str | None, backend_url: str, interval: float = 1.0) -> None:
        self.gateway_url = gateway_url.rstrip("/") if gateway_url else None
        self.backend_url = backend_url
        self.interval = interval
        self.samples: list[dict[str, Any]] = []
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        self.samples = []
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None

    def sample(self) -> dict[str, Any]:
        row: dict[str, Any] = {"t": time.time()}
        if self.gateway_url:
            raw = fetch(self.gateway_url + "/_wr/metrics")
            if raw is not None:
                row.update(parse_metrics(raw.decode("utf-8", "replace")))
        stats = stub_stats(self.backend_url)
        if stats is not None:
            stub, nik, overload = (
                stats.get("stub", {}),
                stats.get("nik_api", {}),
                stats.get("overload", {}),
            )
            row.update(
                stub_in_flight=stub.get("in_flight", 0),
                stub_queued=stub.get("queued", 0),
                nik_in_flight=nik.get("in_flight", 0),
                nik_queued=nik.get("queued", 0),
                rejected_503=overload.get("rejected_503", 0),
                timeout_504=overload.get("timeout_504", 0),
                stub_requests=stats.get("total_requests", 0),
            )
        return row

    def _run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                self.samples.append(self.sample())
            except Exception:
                log.exception("sampling failed")
            gevent.sleep(max(0.0, self.interval - (time.monotonic() - started)))
