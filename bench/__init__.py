"""The performance benchmark: the gateway's hot paths side by side with their ceilings, in one
run (``make bench``, ``python -m bench.run``). See bench/run.py."""
