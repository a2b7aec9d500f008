"""HTML pages: the waiting page (waiting, paused, closed, expired) and error pages (Jinja2)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from gateway.i18n import TEXT
from waitingroom.room import Status

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# Jakarta time: what applicants read on the page.
WIB = dt.timezone(dt.timedelta(hours=7), "WIB")


def _duration(seconds: int, lang: str) -> str:
    t = TEXT[lang]
    if seconds < 90:
        return f"{seconds} {t['seconds']}"
    return f"{round(seconds / 60)} {t['minutes']}"


class Pages:
    def __init__(self, event_title: str, prefix: str, directory: Path = TEMPLATES) -> None:
        self.env = Environment(
            loader=FileSystemLoader(str(directory)),
            autoescape=select_autoescape(["html"]),
            auto_reload=False,
        )
        self.event_title = event_title
        self.prefix = prefix
        self._waiting = self.env.get_template("waiting.html")
        self._error = self.env.get_template("error.html")

    def waiting(
        self,
        status: Status,
        lang: str,
        next_path: str,
        has_ticket: bool = True,
        start_position: int = 0,
        now: float | None = None,
    ) -> str:
        t = TEXT[lang]
        if status.eta is None:
            eta_text = t["eta_unknown"]
        else:
            eta_text = (
                f"{_duration(status.eta[0], lang)} {t['to']} {_duration(status.eta[1], lang)}"
            )
        start = max(start_position, status.ahead, 1)
        progress = max(0, min(100, math.floor(100 * (1 - status.ahead / start))))
        when = dt.datetime.fromtimestamp(now if now is not None else dt.datetime.now().timestamp())
        opens = None
        if status.opens_at:
            opens = dt.datetime.fromtimestamp(status.opens_at, WIB).strftime("%d-%m-%Y %H:%M WIB")
        refresh = None if status.status == "expired" else max(2, round(status.poll_after))
        return self._waiting.render(
            lang=lang,
            t=t,
            status=status,
            event_title=self.event_title,
            prefix=self.prefix,
            eta_text=eta_text,
            progress=progress,
            start_position=start,
            updated=when.astimezone(WIB).strftime("%H:%M:%S WIB"),
            opens_at_text=opens,
            refresh=refresh,
            next_path=next_path,
            has_ticket=has_ticket,
        )

    def error(self, status_code: int, message_key: str, lang: str) -> str:
        t = TEXT[lang]
        return self._error.render(
            lang=lang,
            t=t,
            event_title=self.event_title,
            message=t.get(message_key, message_key),
            status_code=status_code,
            refresh=None,
        )
