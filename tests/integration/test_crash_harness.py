"""The crash harness (tests/crash_harness.py), short: a few rounds of kill -9 under
concurrent direct, group and HTTP senders, then every acknowledged message checked in
history and in every inbox. The long version is one command:
`.venv/bin/python -m tests.crash_harness --rounds 200 [--cluster]`."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from tests.crash_harness import run_harness

ROUNDS = int(os.environ.get("HUBBUB_CRASH_ROUNDS", "3"))


def test_kill9_rounds_on_a_single_node(tmp_path: Path) -> None:
    result = asyncio.run(run_harness(ROUNDS, False, 7, tmp_path))
    print(result)
    assert result["failed"] is None, result
    assert result["server_crashes"] == 0, result
    assert result["checked"] == result["attempted"] > 0
    assert result["victims"] == {"node": ROUNDS}


def test_kill9_rounds_on_a_cluster(tmp_path: Path, postgres_server: object) -> None:
    """Two nodes on PostgreSQL and Redis; each round kills a node, Redis or PostgreSQL
    in turn (postgres_server: only so that a missing PostgreSQL skips or fails as for the
    other cluster tests; the harness starts servers of its own)."""
    result = asyncio.run(run_harness(max(ROUNDS, 4), True, 11, tmp_path))
    print(result)
    assert result["failed"] is None, result
    assert result["server_crashes"] == 0, result
    assert set(result["victims"]) == {"node1", "node2", "redis", "postgres"}
