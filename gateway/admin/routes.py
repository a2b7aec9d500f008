"""The admin paths under the reserved prefix, registered by ``gateway.endpoints.Endpoints``."""

from __future__ import annotations

from gateway.admin import api, dashboard
from gateway.endpoints import Handler

API = "/admin/api"


def admin_routes() -> dict[str, dict[str, Handler]]:
    return {
        "/admin": {"GET": dashboard.page},
        "/admin/login": {"POST": dashboard.login},
        "/admin/logout": {"POST": dashboard.logout},
        "/admin/action": {"POST": dashboard.action},
        f"{API}/state": {"GET": api.state},
        f"{API}/series": {"GET": api.series},
        f"{API}/config": {"GET": api.get_config, "PATCH": api.patch_config},
        f"{API}/audit": {"GET": api.audit},
        f"{API}/pause": {"POST": api.pause},
        f"{API}/resume": {"POST": api.resume},
        f"{API}/close": {"POST": api.close},
        f"{API}/open-now": {"POST": api.open_now},
        f"{API}/reset": {"POST": api.reset},
    }
