"""The benchmarks run against a real server for a few seconds and lose and double
nothing. No timing is asserted: numbers belong in bench/results, not in tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def bench(script: str, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args, "--no-pin"],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def test_one_to_one_bench_smoke(tmp_path: Path) -> None:
    result = bench(
        "throughput.py",
        *("--pairs", "3", "--window", "4", "--duration", "2"),
        *("--server-log", str(tmp_path / "server.log")),
    )
    assert result["acked"] > 0, result
    assert result["lost"] == 0 and result["duplicated"] == 0, result


def test_people_one_to_one_acks_every_message() -> None:
    result = bench("hubbub_bench.py", "one-to-one", "--pairs", "3", "--duration", "2")
    assert result["window"] == 1 and result["ack"] == "each", result
    assert result["acked"] > 0 and result["problems"] == [], result
    # one ack and one delivered receipt per message (echo acks ride along)
    assert 0.95 <= result["acks_sent_per_msg"] <= 1.2, result
    assert 0.95 <= result["receipts_per_msg"] <= 1.05, result


def test_day_in_the_life_smoke() -> None:
    result = bench(
        "hubbub_bench.py",
        "day-in-the-life",
        *("--devices", "60", "--rate", "20", "--duration", "4", "--waves", "1"),
    )
    assert result["acked"] > 0 and result["problems"] == [], result
    assert result["lost"] == 0 and result["duplicated"] == 0, result
    received = result["frames"]["received"]
    for kind in ("message", "receipt", "presence", "read_state", "sent"):
        assert received.get(kind), (kind, received)


def test_sqlite_write_path_runs_both_parts() -> None:
    """The store part drives the real SqliteStore; the shapes part writes a batch both
    ways on the real schema (it checks itself that per_kind's RETURNING saw every send)."""

    def lines(*args: str) -> list[dict[str, Any]]:
        out = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "sqlite_write_path.py"), *args],
            capture_output=True, text=True, timeout=120, check=True,
        ).stdout  # fmt: skip
        return [json.loads(line) for line in out.strip().splitlines()]

    store = lines("store", "--pairs", "3", "--runs", "1", "--duration", "0.5")
    assert store[0]["messages"] > 0 and store[0]["disk_kb_per_msg"] > 0, store
    shapes = lines("shapes", "--pairs", "3", "--rounds", "1", "--sync", "full")
    assert [s["shape"] for s in shapes] == ["per_job", "per_kind"], shapes
