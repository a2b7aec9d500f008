# The surge replay (issue 6), included from the Makefile.
#
#   make surge                          the replay through the gateway; exits with the verdict
#   make surge SCALE=0.05 DURATION=180  another scale (1.0 = 80,000 arrivals a minute) or length
#   make surge-direct                   the same arrivals straight at the backend stub: it breaks
#   make surge PROCESSES=2              Locust with two worker processes (and a master)
#
# Each run starts its own stack (embedded Redis, backend stub, gateway) on free loopback ports,
# sized for the scale, and writes reports/<timestamp>/: summary.md (verdict, figures, CPU),
# surge.png, locust.html, locust_*.csv, people.csv, the processes' logs.

SCALE     ?= 0.02
DURATION  ?= 120
PROCESSES ?= 1

.PHONY: surge surge-direct

surge: install
	$(BIN)/python -m loadtest --scale $(SCALE) --duration $(DURATION) --processes $(PROCESSES)

surge-direct: install
	$(BIN)/python -m loadtest --direct --expect-red --scale $(SCALE) --duration $(DURATION) \
		--processes $(PROCESSES)
