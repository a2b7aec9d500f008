"""Two versions of the gateway in one interleaved run: is a change to the hot paths a gain?

    python -m bench.compare OTHER_TREE [--rounds 6] [--duration 3] [--connections 32]

OTHER_TREE is another checkout of the project (say, a git worktree with a patch applied); its
gateway runs in this venv from its own directory, so its code is what runs. Both gateways share
one Redis, one backend stub and one secret (a ticket or pass of one is good at the other), and
are measured in turns with the ceilings of bench/run.py: on a shared machine, drift hits both
alike, and the median of the per-round ratios B/A says what the change is worth.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench import figures, room, servers
from bench.run import TICK, Bench
from bench.wrk import JSON_ACCEPT, Load, run_wrk

# path -> its ceiling (bench/run.py)
MEASURED = {
    "status poll": "bare Starlette ok",
    "join": "Starlette + 1 INCR",
    "proxied GET": "backend page direct",
    "waiting page": "bare Starlette ok",
}


@dataclass
class Tokens:
    ticket: str
    pass_: str


def loads(urls: dict[str, str], tokens: Tokens) -> dict[str, tuple[str, Load]]:
    """name -> (server, load), in the order they run each round."""
    out: dict[str, tuple[str, Load]] = {
        "bare Starlette ok": ("baselines", Load(urls["baselines"] + "/ok", expect="ok")),
        "Starlette + 1 INCR": ("baselines", Load(urls["baselines"] + "/incr")),
        "backend page direct": (
            "backend",
            Load(urls["backend"] + "/", expect=figures.BACKEND_MARKER),
        ),
    }
    # A and B of a path run back to back: the two runs compared are seconds apart.
    for path in MEASURED:
        for side in ("A", "B"):
            out[f"{path} {side}"] = (side, gateway_load(path, urls[side], tokens))
    return out


def gateway_load(path: str, gw: str, tokens: Tokens) -> Load:
    if path == "status poll":
        return Load(
            gw + "/_wr/status",
            accept=JSON_ACCEPT,
            cookie=f"wr_ticket={tokens.ticket}",
            expect='"status":"waiting"',
        )
    if path == "waiting page":
        ticket = f"wr_ticket={tokens.ticket}"
        return Load(gw + "/", cookie=ticket, expect=figures.WAITING_PAGE_MARKER)
    if path == "join":
        return Load(gw + "/_wr/join", method="POST", accept=JSON_ACCEPT, expect='"ticket":')
    return Load(gw + "/", cookie=f"wr_pass={tokens.pass_}", expect=figures.BACKEND_MARKER)


async def tokens_for(bench: Bench, gateway: str) -> Tokens:
    """A pass (admitted at a high rate), then a ticket that stays waiting (rate 0)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        await room.set_config(bench.store, **room.ADMITTING)
        async with http.post(gateway + "/_wr/join", headers={"accept": JSON_ACCEPT}) as answer:
            first = (await answer.json())["ticket"]
        await room.wait_released(bench.client, bench.keys, 1, TICK)
        headers = {"accept": JSON_ACCEPT, "cookie": f"wr_ticket={first}"}
        async with http.get(gateway + "/_wr/status", headers=headers) as answer:
            wr_pass = (await answer.json())["pass"]
        await room.set_config(bench.store, **room.WAITING)
        await asyncio.sleep(2.5 * TICK)
        async with http.post(gateway + "/_wr/join", headers={"accept": JSON_ACCEPT}) as answer:
            ticket = (await answer.json())["ticket"]
    return Tokens(ticket, wr_pass)


async def compare(args: argparse.Namespace) -> None:
    bench = Bench(args, Path(tempfile.mkdtemp(prefix="wr-compare-")))
    try:
        await bench.open()
        assert bench.redis is not None
        backend = bench.procs["backend"].url
        for side, root in (("A", servers.ROOT), ("B", args.other.resolve())):
            bench.procs[side] = servers.start_gateway(
                f"gateway-{side}", bench.redis.url, backend, bench.secret, bench.log_dir,
                bench.load_cpu, root=root, backend_rps=figures.BACKEND_RPS,
            )  # fmt: skip
        tokens = await tokens_for(bench, bench.procs["A"].url)
        plan = loads({name: proc.url for name, proc in bench.procs.items()}, tokens)
        results: dict[str, list[float]] = {name: [] for name in plan}
        for index in range(args.rounds + 1):
            order = list(plan.items())
            if index % 2:
                # B before A in every other round: neither side always runs second.
                order = sorted(order, key=lambda item: item[0].replace(" A", " C"))
            for name, (server, load) in order:
                under_test = bench.procs[server]
                for proc in bench.procs.values():
                    cpu = bench.server_cpu if proc is under_test else bench.load_cpu
                    servers.pin(proc.pid, cpu)
                seconds = args.duration if index else 1.0
                result = run_wrk(load, seconds, args.connections, bench.load_cpu)
                if result.failures:
                    raise RuntimeError(f"{name}: {result.errors}, unexpected {result.unexpected}")
                if index:
                    results[name].append(result.rps)
            print(f"round {index or 'warm-up'} done", flush=True)
        print(report(results, args))
    finally:
        await bench.close()
        bench.stop()


def report(results: dict[str, list[float]], args: argparse.Namespace) -> str:
    median = {name: statistics.median(values) for name, values in results.items()}
    lines = [
        f"A: {servers.ROOT}   B: {args.other.resolve()}   ({args.rounds} rounds x "
        f"{args.duration:g} s, medians)",
        "",
        f"{'path':16s} {'A req/s':>9s} {'B req/s':>9s} {'A ratio':>8s} {'B ratio':>8s} "
        f"{'B/A':>6s}  B/A per round",
    ]
    for path, ceiling in MEASURED.items():
        a, b = results[f"{path} A"], results[f"{path} B"]
        per_round = [y / x for x, y in zip(a, b, strict=True)]
        lines.append(
            f"{path:16s} {median[f'{path} A']:9,.0f} {median[f'{path} B']:9,.0f} "
            f"{median[f'{path} A'] / median[ceiling]:8.2f} "
            f"{median[f'{path} B'] / median[ceiling]:8.2f} "
            f"{statistics.median(per_round):6.2f}  {min(per_round):.2f}-{max(per_round):.2f}"
        )
    lines.append("")
    lines += [f"{name:20s} {median[name]:9,.0f} req/s" for name in set(MEASURED.values())]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("other", type=Path, help="another checkout of the project")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if not (args.other / "gateway" / "app.py").exists():
        sys.exit(f"{args.other} is not a checkout of the project (no gateway/app.py)")
    asyncio.run(compare(args))


if __name__ == "__main__":
    main()
