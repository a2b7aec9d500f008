"""Profile one hot path under load: py-spy samples the server while wrk drives it.

    .venv/bin/pip install py-spy        (a measuring tool, not a dependency of the project)
    python -m bench.profile "status poll" [--seconds 10] [--connections 32] [--out DIR]

The path names are those of ``bench.run`` (status poll, waiting page, join, proxied GET,
admission, and the baselines). The stack and the room are set up as in a benchmark round; the
server of the path is pinned to its own core. Writes DIR/<path>.txt (collapsed stacks, for any
flame graph tool) and prints where the samples are: by function, its own samples and with
everything it calls, the project's own code marked.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

import aiohttp

from bench import room
from bench.run import PATHS, RESULTS, TICK, Bench, Context, PathSpec, load_for
from bench.wrk import run_wrk

OURS = ("gateway/", "waitingroom/", "backend_stub/", "bench/")


def summarize(collapsed: Path, top: int = 30) -> str:
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        samples += n
        frames = [f.rsplit(":", 1)[0] + ")" if f.endswith(")") else f for f in stack.split(";")]
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    if not samples:
        return "no samples"

    def rows(counter: Counter[str]) -> list[str]:
        out = []
        for frame, n in counter.most_common(top):
            mark = "*" if any(p in frame for p in OURS) else " "
            out.append(f"  {100 * n / samples:5.1f}% {mark} {frame}")
        return out

    ours = Counter({f: n for f, n in total.items() if any(p in f for p in OURS)})
    return "\n".join(
        [
            f"{samples} samples (* the project's code)",
            "own time:",
            *rows(own),
            "the project's functions, with what they call:",
            *rows(ours),
        ]
    )


async def profile(args: argparse.Namespace, spec: PathSpec, py_spy: str) -> None:
    log_dir = Path(tempfile.mkdtemp(prefix="wr-profile-"))
    bench_args = argparse.Namespace(connections=args.connections, duration=args.seconds)
    bench = Bench(bench_args, log_dir)
    try:
        await bench.open()
        bench.start_gateway()
        ctx = Context({name: proc.url for name, proc in bench.procs.items()})
        await room.set_config(bench.store, **room.ADMITTING)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
            needed = bench.admissions_needed(args.seconds + 4)
            positions = await bench.waiting_phase(ctx, http, needed, "profile")
            if spec.phase == "admitting":
                await bench.admitting_phase(ctx, http, positions)
            else:
                await asyncio.sleep(2 * TICK)
        server = bench.place(spec)
        load = load_for(spec.key, ctx)
        run_wrk(load, 2, args.connections, bench.load_cpu)  # warm-up
        args.out.mkdir(parents=True, exist_ok=True)
        collapsed = args.out / (spec.key.replace(" ", "-") + ".txt")
        spy = await asyncio.create_subprocess_exec(
            py_spy, "record", "--pid", str(server.pid), "--duration", str(round(args.seconds)),
            "--rate", "250", "--nonblocking", "--format", "raw", "--output", str(collapsed),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        result = await asyncio.to_thread(
            run_wrk, load, args.seconds + 1, args.connections, bench.load_cpu
        )
        _, err = await asyncio.wait_for(spy.communicate(), 60)
        if spy.returncode != 0:
            raise RuntimeError(f"py-spy failed: {err.decode(errors='replace')}")
        print(
            f"{spec.key}: {result.rps:,.0f} req/s, p50 {result.p50_ms:.1f} ms, "
            f"p99 {result.p99_ms:.1f} ms, failures {result.failures}\n"
        )
        print(summarize(collapsed, args.top))
        print(f"\ncollapsed stacks: {collapsed}")
    finally:
        await bench.close()
        bench.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, default=RESULTS / "profiles")
    args = parser.parse_args()
    spec = next((p for p in PATHS if p.key == args.path), None)
    if spec is None:
        raise SystemExit(f"unknown path {args.path!r}; one of: {', '.join(p.key for p in PATHS)}")
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    asyncio.run(profile(args, spec, py_spy))


if __name__ == "__main__":
    main()
