"""The surge replay: the Locust suite behind ``locustfile.py`` and ``make surge``.

Modules, in the order a replay uses them:

    settings   the replay's command-line options (``SURGE_*``) and their typed settings
    curve      the surge's arrival curve (stage table) and its exact arrival instants
    funnel     how far each applicant goes, from SURGE.md's percentages
    shape      SurgeShape, the Locust load shape that plans and dispatches the arrivals
    node       one load-generating process: people from plans, their records, reports
    users      the people: Applicant (browser-like) and Attacker
    records    what each person leaves behind
    sampler    the master's once-a-second samples of the gateway and the backend stub
    verdict    the checks and figures, pure functions
    report     the plot (matplotlib) and the Markdown summary
    suite      the wiring into Locust's events, on the master and the workers
    stack      embedded Redis, backend stub and gateway on free loopback ports
    cpu        per-process CPU samples while a replay runs
    __main__   ``python -m loadtest``: stack, replay, report, stop, exit with the verdict

Nothing here imports Locust at package import time; ``stack``, ``cpu`` and ``__main__`` never
do (Locust monkey-patches the standard library for gevent).
"""
