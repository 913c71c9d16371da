"""SQLite I/O: one writer thread doing group commit, and a small pool of reader threads.

Group commit: every write call is a job (a function of the connection). The writer takes
all jobs waiting in its queue (up to `max_batch`), runs them within ONE transaction,
commits once (one fsync for the batch: WAL + synchronous=FULL), and only then completes
the callers' futures. A job that raises is undone alone and its caller gets the error;
the rest of the batch commits (_run_fast, and _run_careful when it must). A job may run
twice (after an undo), so it keeps no state outside the connection except caches that
on_rollback empties. Batches grow by themselves under load (more jobs wait while an
fsync runs), with no timer.

Results are handed back to the event loop in commit order with one call per batch, so
callers resume in the order their writes were committed.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from hubbub.core.errors import HubbubError

log = logging.getLogger("hubbub.sqlite")
T = TypeVar("T")


@dataclass(slots=True)
class _Job:
    fn: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]


_Outcome = tuple[_Job, Any, BaseException | None]


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    if readonly:
        conn.execute("PRAGMA query_only = 1")
    else:
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL: the WAL is fsynced at every commit, so a committed batch survives power loss
        conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA cache_size = -32000")
    return conn


class SqliteEngine:
    def __init__(
        self,
        path: Path,
        *,
        readers: int = 2,
        max_batch: int = 512,
        on_commit: Callable[[int, float], None] | None = None,
        on_rollback: Callable[[], None] | None = None,
    ) -> None:
        self.path = path
        self.on_rollback = on_rollback  # a whole batch failed to commit: drop caches
        self.on_commit = on_commit  # (jobs in the batch, seconds of COMMIT), writer thread
        self.max_batch = max_batch
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writer: threading.Thread | None = None
        self._write_conn: sqlite3.Connection | None = None
        self._local = threading.local()
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="hubbub-sqlite-read")
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()
        self._closed = False

    def start(self, setup: Callable[[sqlite3.Connection], object]) -> None:
        self._loop = asyncio.get_running_loop()
        self._write_conn = connect(self.path)
        setup(self._write_conn)
        self._writer = threading.Thread(target=self._run, name="hubbub-sqlite-writer", daemon=True)
        self._writer.start()

    async def stop(self) -> None:
        """Commit every job already queued, then close."""
        if self._closed:
            return
        self._closed = True
        self._jobs.put(None)
        if self._writer:
            await asyncio.to_thread(self._writer.join)
        self._readers.shutdown(wait=True)
        for conn in self._reader_conns:
            conn.close()

    # -- the caller side -------------------------------------------------------------

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run fn in the next batch; returns after that batch is committed and fsynced."""
        if self._closed or self._loop is None:
            raise HubbubError("unavailable", "storage is shutting down")
        future: asyncio.Future[T] = self._loop.create_future()
        self._jobs.put(_Job(fn, future))
        return await future

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run fn on a reader thread inside one read transaction (a consistent snapshot)."""
        assert self._loop is not None
        return await self._loop.run_in_executor(self._readers, self._read_in_thread, fn)

    def _read_in_thread(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, readonly=True)
            self._local.conn = conn
            with self._reader_lock:
                self._reader_conns.append(conn)
        conn.execute("BEGIN")
        try:
            return fn(conn)
        finally:
            conn.execute("COMMIT")

    # -- the writer thread -------------------------------------------------------------

    def _run(self) -> None:
        conn = self._write_conn
        assert conn is not None
        stopping = False
        while not stopping:
            first = self._jobs.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                batch.append(job)
            self._commit_batch(conn, batch)
        conn.close()

    def _commit_batch(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
            outcomes = self._run_fast(conn, batch)
            if outcomes is None:  # a job failed after writing: undo all, redo one by one
                conn.execute("ROLLBACK")
                if self.on_rollback:
                    self.on_rollback()
                conn.execute("BEGIN IMMEDIATE")
                outcomes = self._run_careful(conn, batch)
            started = time.perf_counter()
            conn.execute("COMMIT")
            elapsed = time.perf_counter() - started
            if self.on_commit:
                self.on_commit(len(batch), elapsed)
        except Exception as error:  # the commit itself failed (disk full, I/O error)
            log.exception("commit of %d jobs failed", len(batch))
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if self.on_rollback:
                self.on_rollback()
            failure = HubbubError("unavailable", "storage failed to commit; nothing was stored")
            failure.__cause__ = error
            outcomes = [(job, None, failure) for job in batch]
        assert self._loop is not None
        self._loop.call_soon_threadsafe(_complete, outcomes)

    @staticmethod
    def _run_fast(conn: sqlite3.Connection, batch: list[_Job]) -> list[_Outcome] | None:
        """Every job without a savepoint (SAVEPOINT + RELEASE were two of a send's ~seven
        statements). A job that raises before writing anything (the usual refusal: not a
        member, a bad ack) needs no undo; one that raises after writing makes this return
        None, and the batch runs again the careful way.

        total_changes counts every row a completed statement changed; a statement that
        fails is undone by SQLite itself (statement atomicity), so an unchanged count
        means the job left nothing behind."""
        outcomes: list[_Outcome] = []
        for job in batch:
            before = conn.total_changes
            try:
                result = job.fn(conn)
            except Exception as error:
                if conn.total_changes != before:
                    return None
                outcomes.append((job, None, error))
            else:
                outcomes.append((job, result, None))
        return outcomes

    @staticmethod
    def _run_careful(conn: sqlite3.Connection, batch: list[_Job]) -> list[_Outcome]:
        """Each job in its own SAVEPOINT: one that raises is undone alone."""
        outcomes: list[_Outcome] = []
        for job in batch:
            conn.execute("SAVEPOINT job")
            try:
                result = job.fn(conn)
            except Exception as error:  # the job alone is undone; the batch goes on
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                outcomes.append((job, None, error))
            else:
                conn.execute("RELEASE job")
                outcomes.append((job, result, None))
        return outcomes


def _complete(outcomes: list[_Outcome]) -> None:
    for job, result, error in outcomes:
        if job.future.cancelled():
            continue
        if error is None:
            job.future.set_result(result)
        else:
            job.future.set_exception(error)
