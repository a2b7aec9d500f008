"""A small load experiment: POST /nik, the bottleneck, at a rate below and above capacity.

    python -m backend_stub.experiment --rates 15,60 --duration 10

Starts the stub with uvicorn on a free loopback port (or uses ``--url``), and for each rate:
registers and verifies enough applicants, resets the stub's stats, then sends NIK checks
open-loop (a fixed arrival rate that does not slow down when the server does, like a crowd)
for ``--duration`` seconds, and prints what the client saw and what ``/_stub/stats`` says.
The started stub inherits the ``STUB_*`` environment, so other settings can be tried::

    STUB_NIK_TIMEOUT=1 python -m backend_stub.experiment --rates 60

With the defaults (K = 8 registry calls, lognormal median 200 ms, sigma 0.8: mean 275 ms) the
NIK step can complete about 8 / 0.275 = 29 checks a second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from typing import Any

import httpx

from backend_stub.nik import make_nik

JSON = {"accept": "application/json"}
BORN = date(1990, 5, 17)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def pct(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


async def wait_ready(client: httpx.AsyncClient, deadline: float = 15.0) -> None:
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        try:
            if (await client.get("/_stub/stats")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the stub did not come up")


async def applicants(client: httpx.AsyncClient, n: int, tag: str) -> list[dict[str, str]]:
    """Register and verify ``n`` applicants, a few at a time so the stub is not overloaded."""
    gate = asyncio.Semaphore(16)

    async def one(i: int) -> dict[str, str]:
        async with gate:
            body = {"name": "Uji", "email": f"{tag}-{i}@contoh.id", "password": "rahasia123"}
            r = await client.post("/register", json=body)
            r.raise_for_status()
            token = r.headers["x-stub-email-token"]
            (
                await client.get("/verify-email", params={"token": token}, headers=JSON)
            ).raise_for_status()
            return {"account_id": r.json()["id"], "account_token": r.json()["account_token"]}

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def phase(
    client: httpx.AsyncClient, rate: float, duration: float, first_serial: int
) -> dict[str, Any]:
    n = int(rate * duration)
    accounts = await applicants(client, n, f"r{rate:g}")
    await client.post("/_stub/reset")
    results: list[tuple[int, float]] = []

    async def check(i: int) -> None:
        serial = first_serial + i
        nik = make_nik(BORN, district=1 + serial // 9999, serial=1 + serial % 9999)
        body = {**accounts[i], "nik": nik, "kk": "3201012345678901", "date_of_birth": "1990-05-17"}
        start = time.perf_counter()
        try:
            status = (await client.post("/nik", json=body)).status_code
        except httpx.HTTPError:
            status = 0  # the connection failed or the client gave up
        results.append((status, (time.perf_counter() - start) * 1000))

    t0 = time.perf_counter()
    tasks = []
    for i in range(n):  # open loop: arrival i at t0 + i / rate, however slow the answers
        await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(check(i)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    stats = (await client.get("/_stub/stats")).json()
    ok = [ms for status, ms in results if status == 200]
    every = [ms for _, ms in results]
    return {
        "rate": rate,
        "sent": n,
        "elapsed_s": round(elapsed, 1),
        "statuses": dict(sorted(Counter(s for s, _ in results).items())),
        "ok_per_s": round(len(ok) / elapsed, 1),  # until the last answer
        "client_p50_ms": round(pct(every, 0.5)),
        "client_p99_ms": round(pct(every, 0.99)),
        "ok_p50_ms": round(pct(ok, 0.5)) if ok else None,
        "ok_p99_ms": round(pct(ok, 0.99)) if ok else None,
        "stub_latency_ms": stats["latency_ms"].get("POST /nik"),
        "stub_peak_in_flight": stats["stub"]["peak_in_flight"],
        "stub_peak_queued": stats["stub"]["peak_queued"],
        "nik_api_peak_in_flight": stats["nik_api"]["peak_in_flight"],
        "nik_api_peak_queued": stats["nik_api"]["peak_queued"],
        "overload": stats["overload"],
        "capacity": stats["capacity"],
    }


async def run(url: str, rates: list[float], duration: float) -> list[dict[str, Any]]:
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=2000)
    async with httpx.AsyncClient(base_url=url, headers=JSON, limits=limits, timeout=60) as client:
        await wait_ready(client)
        out, serial = [], 0
        for rate in rates:
            out.append(await phase(client, rate, duration, serial))
            serial += int(rate * duration)
        return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m backend_stub.experiment")
    parser.add_argument("--rates", default="15,60", help="NIK checks per second, comma-separated")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per rate")
    parser.add_argument("--url", help="an already running stub; else one is started")
    parser.add_argument("--seed", default="1", help="STUB_SEED for the started stub")
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]

    server = None
    url = args.url
    if url is None:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "STUB_SEED": args.seed}
        command = [sys.executable, "-m", "backend_stub.cli", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--log-level", "warning"]
        server = subprocess.Popen(command, env=env)  # noqa: S603 (our interpreter, our module)
    try:
        for result in asyncio.run(run(url, rates, args.duration)):
            print(json.dumps(result))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
