"""The benchmark: the gateway's hot paths side by side with their ceilings, in one run.

    python -m bench.run [--duration 3] [--rounds 5] [--warmup 1] [--connections 32]
                        [--queue 100000] [--count-ops 2000]         (or: make bench)

Every process is started through its real entry point on a free loopback port: an embedded Redis,
the backend stub (its simulated service time and capacity limits off), ``gateway serve`` with one
uvicorn worker, and bench/baseline_app.py. The process under test is pinned to one core, alone;
wrk (one thread) is pinned to the other, with Redis and the backend stub when it is the upstream
of the proxied path (as they would be other machines). Each round runs every path once, baselines
interleaved with the paths measured against them, so drift on a shared machine hits both; the
table shows medians over the rounds after a warm-up round, ratios of medians, and the range of
the ratios of the single rounds.

Measured paths (ceiling in brackets):
  status poll     GET /_wr/status, a waiting ticket's cookie, rate 0      [bare "ok"]
  waiting page    GET / as a browser, a waiting ticket's cookie           [bare "ok"]
  join            POST /_wr/join, no cookie: a new ticket each time       [one Redis INCR]
  admission       GET /_wr/status, each request a fresh released ticket   [one Redis INCR]
                  (wrk cycles through a file of tickets, one per request)
  proxied GET     GET / with a pass cookie (renews the session: one round trip)
                                                                          [the backend page]
Derived figures:
  waiting users one core holds   polls/s x the mean poll_after_seconds of a queue of --queue
  Redis round trips per op       counted (INFO commandstats, MONITOR) on a gateway whose
                                 controller ticks only at startup; bench/figures.py
  Redis memory per waiting user  used_memory before and after --queue joins, divided

Results: a table on stdout and bench/results/<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from bench import figures, room, servers
from bench.wrk import BROWSER_ACCEPT, JSON_ACCEPT, Load, WrkMissing, WrkResult, run_wrk, wrk_binary
from waitingroom.config import RoomConfig
from waitingroom.embedded import EmbeddedRedis
from waitingroom.keys import Keys
from waitingroom.store import RedisStore
from waitingroom.tokens import TokenSigner

RESULTS = Path(__file__).resolve().parent / "results"
TICK = 0.25  # the gateway's default controller interval (Settings.tick_interval)


@dataclass(frozen=True)
class PathSpec:
    key: str
    server: str  # which process answers: baselines | gateway | backend
    phase: str  # the room config it needs: waiting (rate 0) | admitting (rate high)
    baseline: str | None = None
    target: float | None = None
    upstream: bool = False  # the backend serves it behind the gateway


PATHS = [
    PathSpec("bare Starlette ok", "baselines", "waiting"),
    PathSpec("status poll", "gateway", "waiting", "bare Starlette ok", 0.70),
    PathSpec("waiting page", "gateway", "waiting", "bare Starlette ok"),
    PathSpec("Starlette + 1 INCR", "baselines", "waiting"),
    PathSpec("join", "gateway", "waiting", "Starlette + 1 INCR", 0.80),
    PathSpec("backend page direct", "backend", "admitting"),
    PathSpec("proxied GET", "gateway", "admitting", "backend page direct", 0.50, upstream=True),
    PathSpec("admission", "gateway", "admitting", "Starlette + 1 INCR"),
]


@dataclass
class Context:
    """What the loads need: where each server is and the tokens of the moment."""

    urls: dict[str, str]
    ticket: str = ""  # a waiting ticket (rate 0)
    pass_: str = ""  # an admitted user's pass
    admit_tokens: Path | None = None  # fresh released tickets, one per admission request


def load_for(key: str, ctx: Context) -> Load:
    gw, base = ctx.urls["gateway"], ctx.urls["baselines"]
    loads: dict[str, Callable[[], Load]] = {
        "bare Starlette ok": lambda: Load(base + "/ok", expect="ok"),
        "Starlette + 1 INCR": lambda: Load(base + "/incr"),
        "backend page direct": lambda: Load(
            ctx.urls["backend"] + "/", expect=figures.BACKEND_MARKER
        ),
        "status poll": lambda: Load(
            gw + "/_wr/status",
            accept=JSON_ACCEPT,
            cookie=f"wr_ticket={ctx.ticket}",
            expect='"status":"waiting"',
        ),
        "waiting page": lambda: Load(
            gw + "/", cookie=f"wr_ticket={ctx.ticket}", expect=figures.WAITING_PAGE_MARKER
        ),
        "join": lambda: Load(
            gw + "/_wr/join", method="POST", accept=JSON_ACCEPT, expect='"ticket":'
        ),
        "proxied GET": lambda: Load(
            gw + "/",
            accept=BROWSER_ACCEPT,
            cookie=f"wr_pass={ctx.pass_}",
            expect=figures.BACKEND_MARKER,
        ),
        "admission": lambda: Load(
            gw + "/_wr/status",
            accept=JSON_ACCEPT,
            tokens=ctx.admit_tokens,
            expect='"status":"admitted"',
        ),
    }
    return loads[key]()


@dataclass
class Row:
    key: str
    rounds: list[WrkResult] = field(default_factory=list)
    warmup: list[WrkResult] = field(default_factory=list)

    def median(self, name: str) -> float:
        values = [getattr(r, name) for r in self.rounds]
        return statistics.median(values) if values else 0.0


class Bench:
    def __init__(self, args: argparse.Namespace, log_dir: Path) -> None:
        self.args = args
        self.log_dir = log_dir
        self.server_cpu, self.load_cpu = servers.two_cpus()
        self.secret = secrets.token_urlsafe(32)
        self.keys = Keys("wr", "prakerja")
        self.signer = TokenSigner([self.secret], self.keys.event)
        self.rows = {p.key: Row(p.key) for p in PATHS}
        self.procs: dict[str, servers.Server] = {}
        self.redis: EmbeddedRedis | None = None
        self.admit_rate = 0.0
        self.derived: dict[str, Any] = {}
        self.pass_ticket = ""
        self.client: aioredis.Redis
        self.store: RedisStore

    # -- processes ---------------------------------------------------------------------

    def start(self) -> None:
        self.redis = EmbeddedRedis(data_dir=self.log_dir / "redis").start()
        assert self.redis.process is not None
        servers.pin(self.redis.process.pid, self.load_cpu)
        self.procs["backend"] = servers.start_backend(self.log_dir, self.load_cpu)
        self.procs["baselines"] = servers.start_baselines(
            self.redis.url, self.log_dir, self.load_cpu
        )

    def start_gateway(self) -> None:
        assert self.redis is not None
        self.procs["gateway"] = servers.start_gateway(
            "gateway",
            self.redis.url,
            self.procs["backend"].url,
            self.secret,
            self.log_dir,
            self.load_cpu,
            backend_rps=figures.BACKEND_RPS,
        )

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.stop()
        if self.redis is not None:
            self.redis.stop()

    def place(self, spec: PathSpec) -> servers.Server:
        """The server under test alone on the server core; everything else on the other."""
        under_test = self.procs[spec.server]
        for proc in self.procs.values():
            servers.pin(proc.pid, self.server_cpu if proc is under_test else self.load_cpu)
        return under_test

    # -- measuring ---------------------------------------------------------------------

    def measure(self, spec: PathSpec, ctx: Context, seconds: float, warm: bool) -> WrkResult:
        proc = self.place(spec)
        before = servers.cpu_seconds(proc.pid)
        upstream = servers.cpu_seconds(self.procs["backend"].pid) if spec.upstream else 0.0
        result = run_wrk(load_for(spec.key, ctx), seconds, self.args.connections, self.load_cpu)
        result.server_cpu = (servers.cpu_seconds(proc.pid) - before) / result.seconds
        if spec.upstream:
            used = servers.cpu_seconds(self.procs["backend"].pid) - upstream
            result.extra["upstream_cpu"] = used / result.seconds
        row = self.rows[spec.key]
        (row.warmup if warm else row.rounds).append(result)
        flag = ""
        if result.failures:
            flag = f"  FAILURES {result.errors} unexpected={result.unexpected}"
        if result.reused:
            flag += f"  reused {result.reused} tickets"
        print(
            f"  {'warm-up' if warm else 'round'} {spec.key:22s} {result.rps:9,.0f} req/s  "
            f"p50 {result.p50_ms:6.1f} ms  p99 {result.p99_ms:6.1f} ms  "
            f"cpu {result.server_cpu:4.2f}{flag}",
            flush=True,
        )
        return result

    async def join_via_gateway(self, http: aiohttp.ClientSession) -> str:
        url = self.procs["gateway"].url + "/_wr/join"
        async with http.post(url, headers={"accept": JSON_ACCEPT}) as answer:
            answer.raise_for_status()
            token: str = (await answer.json())["ticket"]
        return token

    async def admit_via_gateway(self, http: aiohttp.ClientSession, ticket: str) -> str:
        url = self.procs["gateway"].url + "/_wr/status"
        headers = {"accept": JSON_ACCEPT, "cookie": f"wr_ticket={ticket}"}
        async with http.get(url, headers=headers) as answer:
            body = await answer.json()
        if body.get("status") != "admitted":
            raise RuntimeError(f"the pass ticket was not admitted: {body}")
        token: str = body["pass"]
        return token

    async def waiting_phase(
        self, ctx: Context, http: aiohttp.ClientSession, admissions: int, tag: str
    ) -> list[int]:
        """Rate 0: a ticket joined now stays waiting (ctx.ticket). Also takes the positions of
        the next admitting phase's admissions (ctx.admit_tokens), and of the pass, if none yet;
        returns those positions."""
        await room.set_config(self.store, **room.WAITING)
        await asyncio.sleep(2.5 * TICK)  # the gateway's snapshot says so too
        ctx.ticket = await self.join_via_gateway(http)
        if not ctx.pass_ and not self.pass_ticket:
            self.pass_ticket = await self.join_via_gateway(http)
        epoch, positions = await room.join_block(self.client, self.keys, admissions)
        tokens = room.sign_tickets(self.signer, epoch, positions)
        ctx.admit_tokens = room.write_tokens(self.log_dir / f"admit-{tag}.txt", tokens)
        return positions

    async def admitting_phase(
        self, ctx: Context, http: aiohttp.ClientSession, positions: list[int]
    ) -> None:
        """A high rate: every position taken so far is released before this returns."""
        await room.set_config(self.store, rate_per_minute=room.ADMITTING["rate_per_minute"])
        await room.wait_released(self.client, self.keys, positions[-1], TICK)
        if not ctx.pass_:
            ctx.pass_ = await self.admit_via_gateway(http, self.pass_ticket)

    def admissions_needed(self, seconds: float) -> int:
        """Fresh tickets for a run of the admission path (its rate so far, with a margin)."""
        return int((self.admit_rate or 3000.0) * seconds * 1.5) + 2000

    async def rounds(self) -> None:
        ctx = Context({name: proc.url for name, proc in self.procs.items()})
        await room.set_config(self.store, **room.ADMITTING)
        # No cookie jar: every join is a newcomer's.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
            for index in range(self.args.rounds + 1):
                warm = index == 0
                seconds = self.args.warmup if warm else self.args.duration
                print(f"{'warm-up round' if warm else f'round {index}'}", flush=True)
                needed = self.admissions_needed(seconds)
                positions = await self.waiting_phase(ctx, http, needed, str(index))
                for spec in PATHS:
                    if spec.phase == "waiting":
                        self.measure(spec, ctx, seconds, warm)
                await self.admitting_phase(ctx, http, positions)
                for spec in PATHS:
                    if spec.phase == "admitting":
                        result = self.measure(spec, ctx, seconds, warm)
                        if spec.key == "admission":
                            self.admit_rate = max(self.admit_rate, result.rps)

    async def queue(self) -> None:
        """A queue of --queue joins at the default room config: the poll advice they get and
        the Redis memory they cost."""
        defaults = RoomConfig()
        config = {
            "mode": "queue",
            "rate_per_minute": defaults.rate_per_minute,
            "max_active": defaults.max_active,
            "grace_period": defaults.grace_period,
        }
        await room.set_config(self.store, **config)
        join = Load(self.procs["gateway"].url + "/_wr/join", method="POST", accept=JSON_ACCEPT)
        spec = PathSpec("join", "gateway", "waiting")
        self.place(spec)
        # Warm the gateway (code paths, its lazily opened Redis connections), then start over.
        run_wrk(join, 2, self.args.connections, self.load_cpu)
        await self.store.reset("bench")
        # A first few in line and a tick: the event's own keys exist (history appears with the
        # first release), so the memory below is what the queue adds.
        await room.join_block(self.client, self.keys, 10)
        await asyncio.sleep(3 * TICK)
        size = self.args.queue
        results: list[WrkResult] = []

        async def joins() -> None:
            load = Load(join.url, "POST", JSON_ACCEPT, field="poll_after_seconds", stop_after=size)
            results.append(
                await asyncio.to_thread(run_wrk, load, 240, self.args.connections, self.load_cpu)
            )

        print(f"queue of {size:,}: joining", flush=True)
        memory = await figures.memory_per_user(self.client, self.keys, joins)
        joined = results[0]
        mean_poll = joined.field_sum / joined.field_count if joined.field_count else 0.0
        self.derived["queue"] = {
            "size": size,
            "answers": joined.field_count,
            "room_config": config,
            "mean_poll_after_seconds": mean_poll,
            "join_rps": joined.rps,
            "failures": joined.failures,
        }
        self.derived["memory"] = memory.as_dict()
        print(
            f"  {joined.field_count:,} joins at {joined.rps:,.0f}/s: mean poll_after "
            f"{mean_poll:.1f} s; used_memory {memory.used_memory_delta:+,} B, keys "
            f"{memory.keys_delta:+}",
            flush=True,
        )

    async def open(self) -> None:
        """Start Redis, the backend stub and the baselines; connect to Redis."""
        self.start()
        assert self.redis is not None
        self.client = aioredis.Redis.from_url(self.redis.url)
        self.store = RedisStore(self.client, self.keys)

    async def close(self) -> None:
        await self.client.aclose()

    async def run(self) -> None:
        await self.open()
        assert self.redis is not None
        try:
            print("counting Redis commands per operation", flush=True)
            counted = await figures.measure_round_trips(
                self.redis.url,
                self.procs["backend"].url,
                self.secret,
                self.keys,
                self.log_dir,
                self.server_cpu,
                self.args.count_ops,
                min(self.args.count_ops, 2000),
                memory_joins=0,
                settle=0,
            )
            self.derived["round_trips"] = {k: v.as_dict() for k, v in counted.round_trips.items()}
            await self.store.reset("bench")
            self.start_gateway()
            await self.queue()
            await self.rounds()
        finally:
            await self.close()


# -- report ------------------------------------------------------------------------------


def summary(bench: Bench) -> dict[str, Any]:
    rows = bench.rows
    paths: dict[str, Any] = {}
    for spec in PATHS:
        row = rows[spec.key]
        entry: dict[str, Any] = {
            "server": spec.server,
            "rps": row.median("rps"),
            "p50_ms": row.median("p50_ms"),
            "p99_ms": row.median("p99_ms"),
            "server_cpu": row.median("server_cpu"),
            "loadgen_cpu": row.median("loadgen_cpu"),
            "upstream_cpu": statistics.median(
                [r.extra.get("upstream_cpu", 0.0) for r in row.rounds] or [0.0]
            ),
            "failures": sum(r.failures for r in row.rounds),
            "reused_tickets": sum(r.reused for r in row.rounds),
            "rounds": [asdict(r) | {"rps": r.rps} for r in row.rounds],
            "warmup": [asdict(r) | {"rps": r.rps} for r in row.warmup],
        }
        if spec.baseline:
            base = rows[spec.baseline].median("rps")
            entry["baseline"] = spec.baseline
            entry["ratio"] = row.median("rps") / base if base else 0.0
            # Ratios per round too: how steady the median ratio is.
            entry["round_ratios"] = [
                a.rps / b.rps
                for a, b in zip(row.rounds, rows[spec.baseline].rounds, strict=False)
                if b.rps
            ]
            entry["median_round_ratio"] = (
                statistics.median(entry["round_ratios"]) if entry["round_ratios"] else 0.0
            )
        if spec.target is not None:
            entry["target"] = spec.target
            entry["met"] = entry.get("ratio", 0.0) >= spec.target
        paths[spec.key] = entry
    derived = dict(bench.derived)
    poll = rows["status poll"]
    mean_poll = derived.get("queue", {}).get("mean_poll_after_seconds", 0.0)
    cpu = poll.median("server_cpu")
    derived["waiting_users_per_core"] = {
        "polls_per_second": poll.median("rps"),
        "mean_poll_after_seconds": mean_poll,
        "users": poll.median("rps") * mean_poll,
        # The same, had the process had its core to itself (others share this machine).
        "polls_per_cpu_second": poll.median("rps") / cpu if cpu else 0.0,
        "users_per_cpu_second": poll.median("rps") / cpu * mean_poll if cpu else 0.0,
    }
    trips = derived.get("round_trips", {})
    memory = derived.get("memory", {})
    targets = {
        "status poll / bare ok >= 0.70": paths["status poll"]["met"],
        "join / one INCR >= 0.80": paths["join"]["met"],
        "proxied GET / backend page >= 0.50": paths["proxied GET"]["met"],
        "Redis round trips per poll = 0": trips.get("status poll", {}).get("round_trips") == 0,
        "Redis memory per waiting user = 0 B": memory.get("keys_delta") == 0
        and abs(memory.get("bytes_per_user", 1.0)) < 0.5,
    }
    return {
        "paths": paths,
        "derived": derived,
        "targets": targets,
    }


def machine(bench: Bench) -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for package in ("uvicorn", "starlette", "uvloop", "httptools", "redis", "hiredis", "aiohttp"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "server_cpu": bench.server_cpu,
        "load_cpu": bench.load_cpu,
        "python": platform.python_version(),
        "packages": versions,
    }


def table(report: dict[str, Any], args: argparse.Namespace) -> str:
    paths = report["paths"]
    lines = [
        f"hot paths: medians of {args.rounds} rounds x {args.duration:g} s, wrk 1 thread "
        f"{args.connections} connections; one uvicorn worker pinned to its own core",
        "ratio: median req/s over its ceiling's median req/s; rounds: the ratio's range over "
        "the rounds; cpu: share of its core the server used",
        "",
        f"{'path':22s} {'ceiling':20s} {'req/s':>9s} {'p50 ms':>7s} {'p99 ms':>7s} "
        f"{'cpu':>5s} {'ratio':>6s} {'rounds':>11s} {'target':>7s}  met",
    ]
    for spec in PATHS:
        p = paths[spec.key]
        ratio = f"{p['ratio']:.2f}" if "ratio" in p else ""
        spread = ""
        if p.get("round_ratios"):
            spread = f"{min(p['round_ratios']):.2f}-{max(p['round_ratios']):.2f}"
        target = f">={spec.target:.2f}" if spec.target is not None else ""
        met = ("yes" if p["met"] else "NO") if "met" in p else ""
        if p["failures"]:
            met += f" ({p['failures']} failed requests)"
        lines.append(
            f"{spec.key:22s} {spec.baseline or '-':20s} {p['rps']:9,.0f} {p['p50_ms']:7.1f} "
            f"{p['p99_ms']:7.1f} {p['server_cpu']:5.2f} {ratio:>6s} {spread:>11s} {target:>7s}  "
            f"{met}"
        )
    busiest = max(PATHS, key=lambda spec: paths[spec.key]["rps"])
    loadgen = max(paths[spec.key]["loadgen_cpu"] for spec in PATHS)
    proxied = paths["proxied GET"]
    lines += [
        f"wrk used at most {loadgen:.0%} of its core (the busiest path: {busiest.key}, "
        f"{paths[busiest.key]['rps']:,.0f} req/s); the backend behind the proxied GET used "
        f"{proxied['upstream_cpu']:.0%} of the load core",
    ]
    d = report["derived"]
    users = d["waiting_users_per_core"]
    queue = d.get("queue", {})
    memory = d.get("memory", {})
    lines += [
        "",
        "derived figures",
        f"  waiting users one core holds   {users['polls_per_second']:,.0f} polls/s x "
        f"{users['mean_poll_after_seconds']:.1f} s mean advised interval = "
        f"{users['users']:,.0f}",
        f"    (advice averaged over a queue of {queue.get('answers', 0):,} joins at "
        f"{queue.get('room_config', {}).get('rate_per_minute', 0):,}/min)",
        "  Redis round trips per op (top-level commands; EVALSHA by script; commands inside)",
    ]
    for name, c in d.get("round_trips", {}).items():
        scripts = ", ".join(f"{k} {v:g}" for k, v in c["scripts"].items()) or "-"
        inner = " ".join(f"{k}:{v:g}" for k, v in c["inner"].items()) or "-"
        lines.append(
            f"    {name:14s} {c['round_trips']:g}  (evalsha {c['evalsha']:g} [{scripts}], "
            f"eval {c['eval']:g}, other {c['other_top_level']:g}; inside: {inner})"
        )
    if memory:
        parts = memory["breakdown_delta"]
        lines += [
            f"  Redis memory per waiting user  {memory['bytes_per_user']:.2f} B  "
            f"(used_memory {memory['used_memory_delta']:+,} B over {memory['joins']:,} joins,",
            f"    less buffers: clients {parts['mem_clients_normal']:+,} B (connections "
            f"{memory['clients_delta']:+}), append-only file {parts['mem_aof_buffer']:+,} B; "
            f"keys {memory['keys_delta']:+}, key sizes {memory['keyspace_delta']:+,} B)",
        ]
    lines += ["", "targets"]
    for name, met in report["targets"].items():
        lines.append(f"  {'met   ' if met else 'MISSED'} {name}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds per warm-up run")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--queue", type=int, default=100_000, help="joins for the queue figures")
    parser.add_argument("--count-ops", type=int, default=2000, help="requests per count window")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    try:
        wrk_binary()
    except WrkMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    started = time.time()
    log_dir = Path(tempfile.mkdtemp(prefix="wr-bench-"))
    bench = Bench(args, log_dir)
    try:
        asyncio.run(bench.run())
    except Exception:
        print(f"the benchmark failed; server logs are in {log_dir}", file=sys.stderr)
        raise
    finally:
        bench.stop()
    report = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": machine(bench),
        "placement": "the process under test alone on the server core; wrk, Redis, idle "
        "servers and the proxied path's upstream backend on the load core",
        **summary(bench),
    }
    text = table(report, args)
    print("\n" + text)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / (time.strftime("%Y%m%d-%H%M%S", time.localtime(started)) + ".json")
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults: {path}  ({report['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
