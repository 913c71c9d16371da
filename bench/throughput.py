"""End-to-end throughput ceiling of a real Hubbub server: the pipelined one-to-one load.

    .venv/bin/python bench/throughput.py [--url URL --server-pid PID] [--pairs 50]
                                         [--window 8] [--duration 10] [--body-bytes 64]

The same as `bench/hubbub_bench.py one-to-one-ceiling` (W sends in flight per sender,
acks batched every 50 entries or 0.1 s), kept under its old name and options. It is a
ceiling, not a conversation: the primary figure is `hubbub_bench.py one-to-one` (one
message in flight, an ack per message). Prints one JSON line; exit status 1 if anything
was lost or duplicated or the server logged errors.
"""

from __future__ import annotations

import sys

from scenarios.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], scenario="one-to-one-ceiling"))
