"""``/_stub/*``: the load tester's view into the stub. Never queued, never counted.

- ``GET /_stub/stats``: requests by step and status, latency percentiles per step, current and
  peak concurrency and queue of the stub (C) and of the civil-registry API (K), overload
  rejections (503s and 504s apart), the funnel counts, and the settings.
- ``POST /_stub/reset``: clear the counters and reset the peaks to the current values;
  ``?data=1`` also forgets every account.

These endpoints have no authentication: bind the stub to loopback and never route ``/_stub/``
through a public gateway.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from backend_stub.runtime import runtime


async def stats(request: Request) -> Response:
    rt = runtime(request)
    s = rt.settings
    gate = rt.gate
    body = {
        "uptime_s": round(rt.clock.now() - rt.started, 3),
        "capacity": {
            "stub": s.capacity,
            "stub_queue_limit": s.queue_limit,
            "stub_queue_timeout_s": s.queue_timeout,
            "nik_api": s.nik_capacity,
            "nik_api_timeout_s": s.nik_timeout,
        },
        "stub": {
            "in_flight": gate.in_flight,
            "peak_in_flight": gate.peak_in_flight,
            "queued": gate.queued,
            "peak_queued": gate.peak_queued,
        },
        "nik_api": rt.registry.snapshot(),
        **rt.stats.snapshot(),
        "funnel": rt.store.funnel(),
        "settings": s.public(),
    }
    return JSONResponse(body)


async def reset(request: Request) -> Response:
    rt = runtime(request)
    rt.stats.reset()
    rt.gate.reset_peaks()
    rt.registry.reset()
    clear_data = request.query_params.get("data", "").lower() in ("1", "true", "yes")
    if clear_data:
        rt.store.clear()
    return JSONResponse({"reset": True, "data_cleared": clear_data})
