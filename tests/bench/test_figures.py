"""The benchmark's derived figures at a small scale, so CI guards the behaviour behind them:
Redis commands counted per operation (INFO commandstats and MONITOR) through a real gateway
process, and the Redis memory a waiting user costs. Counts, not speed: no wrk needed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import figures, servers
from waitingroom.embedded import EmbeddedRedis
from waitingroom.keys import Keys

pytestmark = pytest.mark.e2e

JOINS = 2000  # the memory of a waiting user: used_memory over this many joins
OPS = 200  # requests per counted window
ADMISSIONS = 100


@pytest.fixture(scope="module")
def counted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[figures.Counted]:
    import asyncio

    log_dir: Path = tmp_path_factory.mktemp("bench")
    cpu = min(os.sched_getaffinity(0))
    with EmbeddedRedis(data_dir=log_dir / "redis") as redis:
        backend = servers.start_backend(log_dir, cpu)
        try:
            yield asyncio.run(
                figures.measure_round_trips(
                    redis.url,
                    backend.url,
                    "bench-test-secret",
                    Keys("wr", "prakerja"),
                    log_dir,
                    cpu,
                    OPS,
                    ADMISSIONS,
                    JOINS,
                    settle=1.0,
                )
            )
        finally:
            backend.stop()


def test_a_status_poll_costs_no_redis_round_trip(counted: figures.Counted) -> None:
    poll = counted.round_trips["status poll"]
    assert poll.ops == OPS
    assert (poll.round_trips, poll.evalsha, poll.eval, poll.other_top_level) == (0, 0, 0, 0)
    assert poll.inner == {}


def test_the_waiting_page_costs_no_redis_round_trip(counted: figures.Counted) -> None:
    assert counted.round_trips["waiting page"].round_trips == 0


def test_a_join_is_one_evalsha_of_the_join_script(counted: figures.Counted) -> None:
    join = counted.round_trips["join"]
    assert (join.round_trips, join.evalsha, join.eval, join.other_top_level) == (1, 1, 0, 0)
    assert join.scripts == {"join": 1}
    assert join.inner["hincrby"] == 1  # the INCR of the tail, inside the script


def test_the_admission_moment_and_a_proxied_request_are_one_round_trip_each(
    counted: figures.Counted,
) -> None:
    admission = counted.round_trips["admission"]
    assert admission.ops == ADMISSIONS
    assert (admission.round_trips, admission.scripts) == (1, {"admit": 1})
    proxied = counted.round_trips["proxied GET"]
    assert (proxied.round_trips, proxied.scripts) == (1, {"renew": 1})


def test_a_waiting_user_costs_redis_no_memory(counted: figures.Counted) -> None:
    memory = counted.memory
    assert memory is not None
    assert memory.joins == JOINS  # counted by the tail counter
    assert memory.keys_delta == 0  # only per-event keys
    assert memory.keyspace_bytes_per_user < 0.05  # the counters grow by a digit now and then
    # used_memory, less connection and append-only-file buffers: no byte per user.
    assert abs(memory.bytes_per_user) < 1.0, memory.as_dict()
