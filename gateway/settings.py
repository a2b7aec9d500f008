"""One typed settings object, read from ``WR_*`` environment variables (and CLI flags).

Secrets are held in Starlette's ``Secret`` so they never appear in a repr, a log or a traceback;
the Redis URL, which may carry a password, is left out of the repr (print it with
``mask_url``).

``WR_BYPASS_PATHS`` (``bypass_paths``): comma-separated paths that never need a pass. An entry
ending with "/" is a prefix ("/static/" covers "/static/app.css"); any other entry matches
exactly that path ("/favicon.ico" covers neither "/favicon.icoX" nor "/favicon.ico/x").
Dot-segments and encoded characters never ride on a prefix ("/static/../admin" needs a pass).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.datastructures import Secret

from waitingroom.config import RoomConfig, parse_changes
from waitingroom.keys import EVENT_ID

MASK = "****"


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ****, for printing and logging.

    redis://:secret@host:6379/0 -> redis://:****@host:6379/0; a user name is kept
    (redis://user:****@host), a lone user-info part is masked whole (redis://****@host, since
    some clients read it as the password), and so is a ``password=`` query parameter.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        # Unparseable: mask everything between "//" and the last "@" before the path.
        return re.sub(r"//[^/?#]*@", f"//{MASK}@", url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if colon else f"{MASK}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(key.lower() == "password" for key, _ in pairs):
            masked = [(k, MASK if k.lower() == "password" else v) for k, v in pairs]
            query = urlencode(masked, safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    secret_keys: tuple[Secret, ...] = ()
    admin_token: Secret | None = None
    # May hold a password: kept out of the repr; print mask_url(redis_url).
    redis_url: str | None = field(default=None, repr=False)
    redis_prefix: str = "wr"
    backend_url: str = "http://127.0.0.1:8001"
    event: str = "prakerja"
    prefix: str = "/_wr"
    bypass_paths: tuple[str, ...] = ("/favicon.ico", "/robots.txt", "/static/")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    tick_interval: float = 0.25
    trusted_proxies: tuple[str, ...] = ()
    backend_rps: float = 2000.0
    backend_max_wait: float = 0.5
    backend_connect_timeout: float = 2.0
    backend_read_timeout: float = 30.0
    backend_pool_size: int = 200
    max_body_bytes: int = 10 * 1024 * 1024
    shutdown_timeout: float = 20.0
    room: RoomConfig = field(default_factory=RoomConfig)

    def __post_init__(self) -> None:
        if not EVENT_ID.match(self.event):
            raise ValueError("WR_EVENT must match [a-z0-9][a-z0-9_-]{0,63}")
        if not self.prefix.startswith("/") or self.prefix.endswith("/") or len(self.prefix) < 2:
            raise ValueError("WR_PREFIX must look like /_wr")

    @property
    def secret_key_values(self) -> list[str]:
        return [str(s) for s in self.secret_keys]

    def with_generated_secret(self) -> Settings:
        """A copy with one random key when none is configured (tickets won't survive restarts)."""
        if self.secret_keys:
            return self
        return replace(self, secret_keys=(Secret(secrets.token_urlsafe(32)),))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if env is None else env
        kwargs: dict[str, Any] = {}
        types = {f.name: f.type for f in fields(cls)}

        def get(name: str) -> str | None:
            value = env.get(f"WR_{name.upper()}")
            return value if value not in (None, "") else None

        for name, kind in types.items():
            raw = get(name)
            if raw is None or name in ("room", "secret_keys", "admin_token"):
                continue
            if kind in ("int",):
                kwargs[name] = int(raw)
            elif kind in ("float",):
                kwargs[name] = float(raw)
            elif kind.startswith("tuple"):
                kwargs[name] = _split(raw)
            else:
                kwargs[name] = raw
        keys = get("secret_keys")
        if keys:
            kwargs["secret_keys"] = tuple(Secret(k) for k in _split(keys))
        token = get("admin_token")
        if token:
            kwargs["admin_token"] = Secret(token)
        room_env = {
            "mode": get("mode"),
            "rate_per_minute": get("rate_per_minute"),
            "max_active": get("max_active"),
            "session_lifetime": get("session_lifetime"),
            "grace_period": get("grace_period"),
            "opens_at": get("opens_at"),
        }
        kwargs["room"] = parse_changes(
            RoomConfig(), {k: v for k, v in room_env.items() if v is not None}
        )
        kwargs.update(overrides)
        return cls(**kwargs)
