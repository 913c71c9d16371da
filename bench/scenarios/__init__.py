"""Hubbub load scenarios, each a coroutine (base URL, server pid, options) -> one JSON
result, built on the load client in bench/loadgen/. The command line is cli.py; run them
with bench/hubbub_bench.py."""
