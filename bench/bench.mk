# `make bench`: the gateway's hot paths side by side with their ceilings (bench/run.py).
# Included from the Makefile; uses its install target and $(BIN). BENCH_ARGS passes options,
# e.g. make bench BENCH_ARGS="--rounds 5 --duration 8".

BENCH_ARGS ?=

.PHONY: bench bench-wrk

# wrk is Debian's package: installed when we are root and it is missing; otherwise a clear error.
bench-wrk:
	@if command -v wrk >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's wrk for the benchmark"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq wrk >/dev/null; \
	else \
		echo "error: make bench needs wrk, which is missing and cannot be installed here" \
			"(not root, or no apt-get): install it (Debian: apt-get install wrk) and retry" >&2; \
		exit 1; \
	fi

bench: install bench-wrk
	$(BIN)/python -m bench.run $(BENCH_ARGS)
