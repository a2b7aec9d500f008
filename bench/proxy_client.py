"""Which async HTTP client should the proxy use? Measured, not guessed.

Runs a bare Starlette backend (uvicorn, one process) and drives it from this process with each
client in turn (httpx.AsyncClient, aiohttp.ClientSession), same concurrency, several interleaved
rounds, and reports requests/s and the ratio between the clients. The client's own CPU cost per
request is what matters for the gateway: it runs in the gateway's event loop.

    .venv/bin/python -m bench.proxy_client [--requests 4000] [--concurrency 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time

import httpx

from waitingroom.embedded import free_port

BACKEND = """
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
async def page(request):
    return Response(b"<html>" + b"x" * 2000 + b"</html>", media_type="text/html")
app = Starlette(routes=[Route("/", page)])
"""


async def run_httpx(url: str, n: int, concurrency: int) -> float:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits) as client:
        return await _drive(lambda: _httpx_get(client, url), n, concurrency)


async def _httpx_get(client: httpx.AsyncClient, url: str) -> None:
    async with client.stream("GET", url) as response:
        async for _ in response.aiter_raw():
            pass


async def run_httpx2(url: str, n: int, concurrency: int) -> float:
    import httpx2

    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(limits=limits) as client:

        async def get() -> None:
            async with client.stream("GET", url) as response:
                async for _ in response.aiter_raw():
                    pass

        return await _drive(get, n, concurrency)


async def run_aiohttp(url: str, n: int, concurrency: int) -> float:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:

        async def get() -> None:
            async with session.get(url) as response:
                async for _ in response.content.iter_any():
                    pass

        return await _drive(get, n, concurrency)


async def _drive(call, n: int, concurrency: int) -> float:  # type: ignore[no-untyped-def]
    remaining = n

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    port = free_port()
    code = BACKEND + f"\nimport uvicorn\nuvicorn.run(app, port={port}, log_level='warning')\n"
    backend = subprocess.Popen([sys.executable, "-c", code])
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(100):
            try:
                httpx.get(url)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        clients = {"httpx": run_httpx, "httpx2": run_httpx2, "aiohttp": run_aiohttp}
        results: dict[str, list[float]] = {name: [] for name in clients}
        for fn in clients.values():  # warm-up
            asyncio.run(fn(url, 500, args.concurrency))
        for _ in range(args.rounds):
            for name, fn in clients.items():
                results[name].append(asyncio.run(fn(url, args.requests, args.concurrency)))
        medians = {name: statistics.median(v) for name, v in results.items()}
        for name, value in medians.items():
            rounds = ", ".join(f"{v:.0f}" for v in results[name])
            print(f"{name:8s} {value:8.0f} req/s  (rounds: {rounds})")
        for name in ("httpx2", "aiohttp"):
            print(f"{name} / httpx = {medians[name] / medians['httpx']:.2f}")
    finally:
        backend.terminate()
        backend.wait()


if __name__ == "__main__":
    main()
