"""The SQLite writer's group commit, on a real database file: a job that fails is undone
alone and the rest of its batch commits, whether it failed before writing (nothing to
undo) or after (the batch is undone and redone job by job)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from hubbub.adapters.sqlite.engine import SqliteEngine

Job = Callable[[sqlite3.Connection], object]


def _insert(key: str, *, fail: str = "") -> Job:
    def job(c: sqlite3.Connection) -> str:
        if fail == "before":
            raise ValueError(f"{key} refused")
        c.execute("INSERT INTO t VALUES (?)", (key,))
        if fail == "after":
            raise ValueError(f"{key} failed after writing")
        return key

    return job


async def _in_one_batch(tmp_path: Path, jobs: list[Job]) -> tuple[list[object], int, list[str]]:
    """Run jobs as one batch (the writer is held on a first job until all are queued);
    returns their results, how many times the batch was undone, and the rows after."""
    rollbacks = 0

    def count_rollback() -> None:
        nonlocal rollbacks
        rollbacks += 1

    engine = SqliteEngine(tmp_path / "db.sqlite3", on_rollback=count_rollback)
    engine.start(lambda c: c.execute("CREATE TABLE t (k TEXT PRIMARY KEY)"))
    try:
        gate = threading.Event()
        held = asyncio.ensure_future(engine.write(lambda c: gate.wait(10)))
        tasks = [asyncio.ensure_future(engine.write(job)) for job in jobs]
        await asyncio.sleep(0)  # every write() has run up to its await: all jobs queued
        gate.set()
        await held
        results = list(await asyncio.gather(*tasks, return_exceptions=True))
        rows = await engine.read(lambda c: sorted(r[0] for r in c.execute("SELECT k FROM t")))
    finally:
        await engine.stop()
    return results, rollbacks, rows


@pytest.mark.parametrize("fail", ["before", "after"])
def test_a_failed_job_is_undone_alone(tmp_path: Path, fail: str) -> None:
    jobs = [_insert("a"), _insert("b", fail=fail), _insert("c")]
    results, rollbacks, rows = asyncio.run(_in_one_batch(tmp_path, jobs))
    assert results[0] == "a" and results[2] == "c"
    assert isinstance(results[1], ValueError)
    assert rows == ["a", "c"]
    assert rollbacks == (1 if fail == "after" else 0)


def test_a_constraint_violation_is_undone_alone(tmp_path: Path) -> None:
    jobs = [_insert("a"), _insert("a"), _insert("c")]
    results, rollbacks, rows = asyncio.run(_in_one_batch(tmp_path, jobs))
    assert results[0] == "a" and results[2] == "c"
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert rows == ["a", "c"]
    assert rollbacks == 0  # the failed INSERT undid itself
