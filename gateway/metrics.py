"""Prometheus metrics. With several uvicorn workers, ``PROMETHEUS_MULTIPROC_DIR`` is set by the CLI
before the workers start, and /_wr/metrics aggregates every worker's files."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

ARRIVALS = Counter("wr_arrivals_total", "Applicants who joined the line")
ADMISSIONS = Counter("wr_admissions_total", "Tickets redeemed into sessions")
POLLS = Counter("wr_polls_total", "Status polls answered (no Redis round trip)")
REJECTED = Counter("wr_rejected_total", "Requests refused by the gateway", ["reason"])
PROXIED = Counter("wr_proxied_requests_total", "Requests proxied to the backend", ["status"])
REDIS_ERRORS = Counter("wr_redis_errors_total", "Redis operations that failed")
BACKEND_LATENCY = Histogram(
    "wr_backend_latency_seconds",
    "Time to the backend's response headers",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
QUEUE_LENGTH = Gauge("wr_queue_length", "People waiting (tail - serving)", multiprocess_mode="max")
SERVING = Gauge("wr_serving", "Highest position released", multiprocess_mode="max")
TAIL = Gauge("wr_tail", "Highest position issued", multiprocess_mode="max")
ACTIVE = Gauge("wr_active_sessions", "Admitted users with a live session", multiprocess_mode="max")


def observe_snapshot(tail: int, serving: int, active: int) -> None:
    TAIL.set(tail)
    SERVING.set(serving)
    QUEUE_LENGTH.set(max(0, tail - serving))
    ACTIVE.set(active)


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
