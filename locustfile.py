"""The surge replay: 80,000 registrants a minute (Kartu Prakerja, 11 April 2020), scaled down,
against the admission gateway, with a verdict and a picture at the end.

Run it against a running stack (``make run``: gateway on :8000, backend stub on :8001)::

    locust -f locustfile.py                                   # web UI on :8089
    locust -f locustfile.py --headless --surge-scale 0.02 --surge-duration 120 \\
        --admission-rate 600 --backend-url http://127.0.0.1:8001 --html report.html

or let ``make surge`` start a stack sized for the scale, run the replay headless and stop it
(``python -m loadtest --help``). Every option is also an environment variable (``SURGE_*``);
``locust -f locustfile.py --help`` lists them under the custom arguments. The replay lasts
``--surge-duration`` seconds of arrivals; ``-t``/``--run-time`` cuts it shorter. Without
``--admission-rate``, the rate is read from the gateway's admin API if ``--admin-token``
(``SURGE_ADMIN_TOKEN``) is given.

What happens: ``SurgeShape`` plans the arrivals from its stage table (ramp to the peak, hold,
decay) and hands each node the people due in the coming second; each is one Locust user that
arrives once at its instant, waits in line polling when the gateway says, registers as far as
SURGE.md's percentages take it, leaves, and stops itself. A small share abandon the queue
(no-shows); a small share are attackers (forged, tampered or misused tokens, a join hammer).
At the end the master computes the verdict (exit code 0 when green, 1 when red) and writes
``summary.md``, ``surge.png``, ``verdict.json``, ``people.csv`` to ``--report-dir`` (default
``reports/<timestamp>/``), next to Locust's own ``--html`` and ``--csv`` files.

Distributed: the same file runs unchanged on several processes or machines::

    locust -f locustfile.py --headless --processes 4 ...           # one machine, 4 workers
    locust -f locustfile.py --headless --master --expect-workers 2 ...
    locust -f locustfile.py --worker --master-host 10.0.0.5        # on each load machine

The shape runs on the master and sends each worker its share of the arrivals (round-robin);
the workers send their people's records to the master (every 2 s, and all of them at the end,
when the master asks), and the verdict is computed on the master from all of them. Only the
master needs the replay's options; workers get them with Locust's spawn message. Records carry
wall-clock times: keep the machines' clocks in sync (NTP) for the FIFO and ETA figures.
"""

from __future__ import annotations

from typing import Any

from locust import events

from loadtest import suite
from loadtest.shape import SurgeShape
from loadtest.users import Applicant, Attacker

__all__ = ["Applicant", "Attacker", "SurgeShape"]


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    suite.add_options(parser)


@events.init.add_listener
def _init(environment: Any, **kwargs: Any) -> None:
    suite.on_init(environment, **kwargs)


@events.test_start.add_listener
def _test_start(environment: Any, **kwargs: Any) -> None:
    suite.on_test_start(environment, **kwargs)


@events.test_stopping.add_listener
def _test_stopping(environment: Any, **kwargs: Any) -> None:
    suite.on_test_stopping(environment, **kwargs)


@events.test_stop.add_listener
def _test_stop(environment: Any, **kwargs: Any) -> None:
    suite.on_test_stop(environment, **kwargs)


@events.quitting.add_listener
def _quitting(environment: Any, **kwargs: Any) -> None:
    suite.on_quitting(environment, **kwargs)
