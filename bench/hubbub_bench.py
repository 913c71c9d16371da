"""Hubbub load scenarios against a real server: one entry point, one JSON line per run.

    .venv/bin/python bench/hubbub_bench.py SCENARIO [--url URL --server-pid PID] [--metrics] ...
    .venv/bin/python bench/hubbub_bench.py --help        # every scenario and option

The scenarios live in bench/scenarios/, the load client they share in bench/loadgen/.
"""

from __future__ import annotations

import sys

from scenarios.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
