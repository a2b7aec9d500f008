"""The capacity model: C slots with a bounded, timed queue (503), K registry calls (504)."""

from __future__ import annotations

import asyncio
import random
import statistics
from collections import Counter

import pytest

from backend_stub.capacity import Limiter
from backend_stub.clock import Clock
from backend_stub.errors import QueueFull, QueueTimeout
from backend_stub.registry import CivilRegistry
from backend_stub.runtime import Runtime
from backend_stub.settings import StubSettings

JSON = {"accept": "application/json"}


async def burst(client, n: int, path: str = "/") -> list:
    return await asyncio.gather(*(client.get(path, headers=JSON) for _ in range(n)))


async def test_burst_of_c_plus_10_lets_c_through_and_refuses_the_10(stub):
    # Service time (300 ms) outlasts the queue timeout (100 ms): whoever has to wait, fails.
    async with stub(capacity=5, queue_timeout=0.1, service_ms=300, service_jitter=0) as client:
        responses = await burst(client, 15)
        assert Counter(r.status_code for r in responses) == {200: 5, 503: 10}
        refused = [r for r in responses if r.status_code == 503]
        assert all(r.headers["retry-after"] == "1" for r in refused)
        assert all(r.json()["error"] == "overloaded" for r in refused)

        stats = (await client.get("/_stub/stats")).json()
        assert stats["stub"]["peak_in_flight"] == 5
        assert stats["stub"]["peak_queued"] == 10
        assert stats["stub"]["in_flight"] == 0
        assert stats["stub"]["queued"] == 0
        assert stats["overload"] == {
            "rejected_503": 10,
            "queue_full": 0,
            "queue_timeout": 10,
            "timeout_504": 0,
        }
        assert stats["requests"]["GET /"] == {"200": 5, "503": 10}
        assert stats["capacity"]["stub"] == 5


async def test_waiters_within_the_timeout_are_served_and_a_full_queue_refuses_at_once(stub):
    async with stub(
        capacity=2, queue_limit=3, queue_timeout=2.0, service_ms=100, service_jitter=0
    ) as client:
        responses = await burst(client, 10)
        assert Counter(r.status_code for r in responses) == {200: 5, 503: 5}
        stats = (await client.get("/_stub/stats")).json()
        assert stats["overload"]["queue_full"] == 5
        assert stats["overload"]["queue_timeout"] == 0
        assert stats["stub"]["peak_in_flight"] == 2
        assert stats["stub"]["peak_queued"] == 3
        # The waiters' latency includes their time in the queue.
        assert stats["latency_ms"]["GET /"]["max"] >= 250


async def test_stub_endpoints_are_never_queued(stub):
    async with stub(capacity=1, queue_limit=0, service_ms=300, service_jitter=0) as client:
        busy = asyncio.create_task(client.get("/", headers=JSON))
        await asyncio.sleep(0.05)
        assert (await client.get("/", headers=JSON)).status_code == 503
        r = await client.get("/_stub/stats")
        assert r.status_code == 200
        assert r.json()["stub"]["in_flight"] == 1
        assert (await client.post("/_stub/reset")).status_code == 200
        assert (await busy).status_code == 200


async def test_html_503_page(stub):
    async with stub(capacity=1, queue_limit=0, service_ms=200, service_jitter=0) as client:
        busy = asyncio.create_task(client.get("/"))
        await asyncio.sleep(0.05)
        r = await client.get("/?lang=en")
        assert r.status_code == 503
        assert "The server is busy" in r.text
        assert "try again in 2 seconds" in r.text  # ceil(queue_timeout)
        await busy


async def test_nik_api_never_exceeds_k(stub, new_nik):
    k, extra = 3, 9
    async with stub(nik_capacity=k, nik_latency_ms=50, nik_timeout=5.0) as client:
        accounts = []
        for i in range(k + extra):
            r = await client.post(
                "/register",
                json={"name": "N", "email": f"nik{i}@contoh.id", "password": "12345678"},
            )
            await client.get("/verify-email", params={"token": r.headers["x-stub-email-token"]})
            accounts.append(r.json())
        await client.post("/_stub/reset")

        responses = await asyncio.gather(
            *(
                client.post(
                    "/nik",
                    json={
                        "account_id": a["id"],
                        "account_token": a["account_token"],
                        "nik": new_nik(),
                        "kk": "3201012345678901",
                        "date_of_birth": "1990-05-17",
                    },
                )
                for a in accounts
            )
        )
        assert [r.status_code for r in responses] == [200] * (k + extra)
        stats = (await client.get("/_stub/stats")).json()
        assert stats["nik_api"]["peak_in_flight"] == k
        assert stats["nik_api"]["peak_queued"] == extra
        assert stats["nik_api"]["calls"] == k + extra
        # 12 calls of 50 ms through 3 slots take 4 rounds: the last waited about 150 ms.
        assert stats["latency_ms"]["POST /nik"]["max"] >= 190


async def test_saturated_nik_api_answers_504(stub, funnel_factory):
    async with stub(nik_capacity=1, nik_latency_ms=300, nik_timeout=0.05) as client:
        applicants = [await funnel_factory(client).verified() for _ in range(3)]
        responses = await asyncio.gather(*(a.submit_nik() for a in applicants))
        assert sorted(r.status_code for r in responses) == [200, 504, 504]
        timed_out = [r for r in responses if r.status_code == 504]
        assert all(r.json()["error"] == "nik_timeout" for r in timed_out)
        assert all("retry-after" in r.headers for r in timed_out)
        stats = (await client.get("/_stub/stats")).json()
        assert stats["overload"]["timeout_504"] == 2
        assert stats["overload"]["rejected_503"] == 0
        assert stats["nik_api"]["timeouts"] == 2
        assert stats["funnel"]["nik_verified"] == 1


async def test_a_slow_registry_ties_up_the_stub(stub, funnel_factory):
    """The 2020 failure: NIK checks hold the stub's slots, so even the landing page fails."""
    async with stub(
        capacity=2, queue_timeout=0.05, nik_capacity=1, nik_latency_ms=300, nik_timeout=1.0
    ) as client:
        applicants = [await funnel_factory(client).verified() for _ in range(2)]
        checks = [asyncio.create_task(a.submit_nik()) for a in applicants]
        await asyncio.sleep(0.05)
        assert (await client.get("/", headers=JSON)).status_code == 503
        assert sorted(r.status_code for r in await asyncio.gather(*checks)) == [200, 200]


# --- the limiter itself ---------------------------------------------------------------------


async def test_limiter_is_first_come_first_served():
    limiter = Limiter(1, queue_limit=None, clock=Clock())
    order: list[int] = []

    async def worker(i: int) -> None:
        async with limiter.slot(1.0):
            order.append(i)
            await asyncio.sleep(0.001)

    await limiter.acquire(1.0)
    tasks = [asyncio.create_task(worker(i)) for i in range(5)]
    await asyncio.sleep(0.01)
    assert limiter.queued == 5
    limiter.release()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]
    assert (limiter.in_flight, limiter.queued, limiter.peak_in_flight) == (0, 0, 1)


async def test_limiter_does_not_leak_slots_on_timeout_or_cancel():
    limiter = Limiter(1, queue_limit=1, clock=Clock())
    await limiter.acquire(0)
    with pytest.raises(QueueTimeout):
        await limiter.acquire(0.01)
    waiting = asyncio.create_task(limiter.acquire(10))
    await asyncio.sleep(0.01)
    with pytest.raises(QueueFull):
        await limiter.acquire(10)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert limiter.queued == 0
    limiter.release()
    assert limiter.in_flight == 0
    await limiter.acquire(0)  # the slot is free again
    assert limiter.in_flight == 1


async def test_a_fast_clock_runs_the_model_in_simulated_time():
    clock = Clock(speed=100)
    limiter = Limiter(1, queue_limit=None, clock=clock)
    start = clock.now()
    await limiter.acquire(0)
    with pytest.raises(QueueTimeout):
        await limiter.acquire(2.0)  # two simulated seconds, 20 real milliseconds
    assert 1.9 <= clock.now() - start < 4.0


def test_service_time_grows_with_the_queue():
    rt = Runtime.build(StubSettings(service_ms=5, service_jitter=0, queue_penalty_ms=0.5))
    assert rt.service_seconds(0) == pytest.approx(0.005)
    assert rt.service_seconds(200) == pytest.approx(0.105)
    jittery = Runtime.build(StubSettings(service_ms=10, service_jitter=0.5, seed=7))
    samples = [jittery.service_seconds(0) for _ in range(1000)]
    assert 0.005 <= min(samples) < max(samples) <= 0.015


def test_registry_latency_is_lognormal_with_a_long_tail():
    registry = CivilRegistry(8, 200, 0.8, 3.0, Clock(), random.Random(42))
    samples = sorted(registry.latency_ms() for _ in range(20_000))
    median = statistics.median(samples)
    p99 = samples[int(0.99 * len(samples))]
    assert 180 < median < 220
    assert p99 > 5 * median  # exp(2.326 * 0.8) = 6.4
    assert max(samples) <= 200 * 50


def test_seeded_randomness_repeats():
    a = CivilRegistry(8, 200, 0.8, 3.0, Clock(), random.Random(1))
    b = CivilRegistry(8, 200, 0.8, 3.0, Clock(), random.Random(1))
    assert [a.latency_ms() for _ in range(5)] == [b.latency_ms() for _ in range(5)]
