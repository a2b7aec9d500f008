"""The ``gateway`` command.

gateway serve    the gateway (uvicorn, N workers); starts an embedded Redis if WR_REDIS_URL
                 is unset and shares it with every worker
gateway dev      everything `make run` needs: embedded Redis, backend stub, gateway
gateway admin    operate a running gateway: status, set, pause, resume, open-at, audit, ...
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from gateway.admin.client_cli import add_parser as add_admin_parser
from gateway.logs import configure
from gateway.settings import Settings, mask_url
from waitingroom.embedded import EmbeddedRedis
from waitingroom.errors import EmbeddedRedisError


def data_dir() -> Path:
    path = Path(os.environ.get("WR_DATA_DIR", ".wr")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def ensure_secret(env: dict[str, str]) -> None:
    """Without WR_SECRET_KEYS, use a key kept in the data directory, so restarts keep tickets."""
    if env.get("WR_SECRET_KEYS"):
        return
    path = data_dir() / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
    env["WR_SECRET_KEYS"] = path.read_text().strip()


@contextlib.contextmanager
def redis_for(env: dict[str, str]) -> Iterator[str]:
    """WR_REDIS_URL if set, else an embedded Redis for as long as the block runs."""
    if env.get("WR_REDIS_URL"):
        yield env["WR_REDIS_URL"]
        return
    server = EmbeddedRedis(data_dir=data_dir() / "redis")
    server.start()
    env["WR_REDIS_URL"] = server.url
    try:
        yield server.url
    finally:
        server.stop()


def serve(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    if args.workers:
        env["WR_WORKERS"] = str(args.workers)
    settings = Settings.from_env(env)
    configure(args.log_level.upper(), access_log=args.access_log)
    # Workers are fresh processes: they configure their logs from these.
    env["WR_LOG_LEVEL"] = args.log_level.upper()
    env["WR_ACCESS_LOG"] = "1" if args.access_log else "0"
    ensure_secret(env)
    with redis_for(env) as url, tempfile.TemporaryDirectory(prefix="wr-metrics-") as metrics:
        env.setdefault("PROMETHEUS_MULTIPROC_DIR", metrics)
        # Workers read their settings from the environment.
        os.environ.update(env)
        print(f"gateway: redis at {mask_url(url)}, {settings.workers} workers", file=sys.stderr)
        uvicorn.run(
            "gateway.app:create_served_app",
            factory=True,
            host=args.host or settings.host,
            port=args.port or settings.port,
            workers=settings.workers,
            proxy_headers=bool(settings.trusted_proxies),
            forwarded_allow_ips=list(settings.trusted_proxies) or None,
            timeout_graceful_shutdown=int(settings.shutdown_timeout),
            log_config=None,
            access_log=False,
            server_header=False,
            lifespan="on",
        )
    return 0


def dev(args: argparse.Namespace) -> int:
    """Start the embedded Redis, the backend stub and the gateway; stop all on Ctrl+C."""
    env = dict(os.environ)
    env.setdefault("WR_BACKEND_URL", f"http://127.0.0.1:{args.backend_port}")
    ensure_secret(env)
    try:
        redis_cm = redis_for(env)
        url = redis_cm.__enter__()
    except EmbeddedRedisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    children: list[subprocess.Popen[bytes]] = []

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM stops everything the way Ctrl+C does

    signal.signal(signal.SIGTERM, stop)
    try:
        stub = [sys.executable, "-c", "from backend_stub.cli import main; main()"]
        children.append(
            subprocess.Popen([*stub, "--port", str(args.backend_port)], env=env)  # noqa: S603
        )
        gateway = [sys.executable, "-c", "from gateway.cli import main; main()", "serve"]
        children.append(
            subprocess.Popen([*gateway, "--port", str(args.port)], env=env)  # noqa: S603
        )
        base = f"http://127.0.0.1:{args.port}"
        backend = mask_url(env["WR_BACKEND_URL"])
        print(
            "\n".join(
                [
                    "",
                    f"  redis          {mask_url(url)}",
                    f"  backend stub   {backend}  (direct, no waiting room)",
                    f"  waiting page   {base}/",
                    f"  status JSON    {base}/_wr/status",
                    f"  dashboard      {base}/_wr/admin  (needs WR_ADMIN_TOKEN)",
                    f"  metrics        {base}/_wr/metrics",
                    "",
                    "  Ctrl+C stops everything.",
                    "",
                ]
            ),
            flush=True,
        )
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=25)
            except subprocess.TimeoutExpired:
                child.kill()
        redis_cm.__exit__(None, None, None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="gateway", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="run the gateway")
    p_serve.add_argument("--host", default=None)
    p_serve.add_argument("--port", type=int, default=None)
    p_serve.add_argument("--workers", type=int, default=None)
    p_serve.add_argument("--log-level", default="info")
    p_serve.add_argument("--access-log", action="store_true")
    p_serve.set_defaults(func=serve)
    p_dev = sub.add_parser("dev", help="run redis, the backend stub and the gateway together")
    p_dev.add_argument("--port", type=int, default=int(os.environ.get("WR_PORT", "8000")))
    p_dev.add_argument("--backend-port", type=int, default=8001)
    p_dev.set_defaults(func=dev)
    add_admin_parser(sub)
    args = parser.parse_args(argv)
    try:
        sys.exit(args.func(args))
    except EmbeddedRedisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
