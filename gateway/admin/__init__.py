"""The operators' controls: admin API, live dashboard and the ``gateway admin`` CLI.

auth        bearer token (constant-time), dashboard sessions and CSRF tokens
sampler     a per-worker history of the room, sampled on each controller tick
state       the state JSON: config, counters, rates, ETA, backend health, workers
capacity    what an admission rate means for the registration backend's funnel
opening     opening times: ISO 8601 with an offset <-> Unix time
api         /_wr/admin/api/...  (JSON)
dashboard   /_wr/admin          (HTML, templates/admin/)
routes      the paths above, registered by gateway.endpoints
client_cli  ``gateway admin ...``, an httpx client of the admin API

Everything here is off unless ``WR_ADMIN_TOKEN`` is set; it never falls open.
"""
