"""PostgreSQL I/O: one writer task doing group commit on its own connection, and a pool
for reads.

Group commit: every write call is a job (an async function of a connection). The writer
takes all jobs waiting in its queue (up to `max_batch`), runs each inside its own SAVEPOINT
within ONE transaction, COMMITs once (synchronous_commit=on: the WAL is flushed before the
COMMIT returns), and only then completes the callers' futures, in order. A job that raises
is rolled back to its savepoint alone and its caller gets the error; the rest of the batch
commits. A failed COMMIT (or a lost connection) fails every job of the batch with
`unavailable`; the writer reconnects for the next batch, so the store works again as soon
as the database does.

Several nodes may write at once. Row locks taken by one node's batch can cross another's
(node A's batch locks user 1 then user 2, node B's the other way round); PostgreSQL breaks
the deadlock by failing one statement. Such a job (deadlock or serialization failure) is
rolled back to its savepoint and retried in the NEXT batch, after this one has committed
and released its locks, a few times before its caller sees `unavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg

from hubbub.core.errors import HubbubError

log = logging.getLogger("hubbub.postgres")
T = TypeVar("T")
Job = Callable[[asyncpg.Connection], Awaitable[T]]

# a commit must be durable before the caller is answered: never let a server default weaken it
SERVER_SETTINGS = {"synchronous_commit": "on", "application_name": "hubbub"}
MAX_RETRIES = 5
_RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)


@dataclass(slots=True)
class _Job:
    fn: Job[Any]
    future: asyncio.Future[Any]
    attempts: int = 0


class PostgresEngine:
    def __init__(
        self,
        dsn: str,
        *,
        pool_size: int = 4,
        max_batch: int = 512,
        on_commit: Callable[[int, float], None] | None = None,
        on_retry: Callable[[], None] | None = None,
    ) -> None:
        self.dsn = dsn
        self.pool_size = pool_size
        self.max_batch = max_batch
        self.on_commit = on_commit  # (jobs in the batch, seconds of COMMIT)
        self.on_retry = on_retry  # a job was rolled back by a deadlock or conflict: retried
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._retry: deque[_Job] = deque()
        self._pool: asyncpg.Pool | None = None
        self._conn: asyncpg.Connection | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closed = False

    async def connect(self) -> asyncpg.Connection:
        conn: asyncpg.Connection = await asyncpg.connect(self.dsn, server_settings=SERVER_SETTINGS)
        return conn

    async def start(self) -> None:
        self._pool = await asyncpg.create_pool(
            self.dsn,
            min_size=1,
            max_size=self.pool_size,
            server_settings=SERVER_SETTINGS,
        )
        self._conn = await self.connect()
        self._writer = asyncio.create_task(self._run(), name="hubbub-postgres-writer")

    async def stop(self) -> None:
        """Commit every job already queued, then close the connections."""
        if self._closed:
            return
        self._closed = True
        self._queue.put_nowait(None)
        if self._writer:
            await self._writer
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None
        if self._pool is not None:
            await self._pool.close()

    # -- the caller side -------------------------------------------------------------

    async def write(self, fn: Job[T]) -> T:
        """Run fn in the next batch; returns after that batch is committed (durably)."""
        if self._closed or self._writer is None:
            raise HubbubError("unavailable", "storage is shutting down")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(fn, future))
        return await future

    async def read(self, fn: Job[T], *, snapshot: bool = False) -> T:
        """Run fn on a pooled connection; `snapshot`: inside one REPEATABLE READ read-only
        transaction (a consistent view across several queries)."""
        if self._pool is None:
            raise HubbubError("unavailable", "storage is not open")
        try:
            async with self._pool.acquire() as conn:
                if not snapshot:
                    return await fn(conn)
                async with conn.transaction(isolation="repeatable_read", readonly=True):
                    return await fn(conn)
        except (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError) as error:
            raise HubbubError("unavailable", "storage is unreachable") from error

    # -- the writer task ---------------------------------------------------------------

    async def _run(self) -> None:
        stopping = False
        while not stopping or self._retry:
            batch: list[_Job] = []
            while self._retry and len(batch) < self.max_batch:
                batch.append(self._retry.popleft())
            if not batch and not stopping:
                first = await self._queue.get()
                if first is None:
                    stopping = True
                else:
                    batch.append(first)
            while not stopping and len(batch) < self.max_batch:
                try:
                    job = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    break
                if job is None:
                    stopping = True
                    break
                batch.append(job)
            if batch:
                await self._commit_batch(batch)

    async def _commit_batch(self, batch: list[_Job]) -> None:
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        retry: list[_Job] = []
        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await self.connect()
            conn = self._conn
            await conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            for job in batch:
                outcome = await self._run_job(conn, job)
                if outcome is None:
                    retry.append(job)  # after this batch's locks are released
                else:
                    outcomes.append(outcome)
            started = time.perf_counter()
            await conn.execute("COMMIT")
            elapsed = time.perf_counter() - started
            if self.on_commit:
                self.on_commit(len(batch), elapsed)
        except Exception as error:  # the commit failed or the connection is gone
            log.exception("commit of %d jobs failed", len(batch))
            await self._reset()
            failure = HubbubError("unavailable", "storage failed to commit; nothing was stored")
            failure.__cause__ = error
            outcomes = [(job, None, failure) for job in batch]
            retry = []
        if self.on_retry:
            for _ in retry:
                self.on_retry()
        self._retry.extend(retry)
        for job, result, err in outcomes:
            if job.future.cancelled():
                continue
            if err is None:
                job.future.set_result(result)
            else:
                job.future.set_exception(err)

    async def _run_job(
        self, conn: asyncpg.Connection, job: _Job
    ) -> tuple[_Job, Any, BaseException | None] | None:
        """Run one job in its own savepoint: its outcome, or None to retry it next batch.
        Errors of the connection itself escape (from the ROLLBACK TO) and fail the batch."""
        await conn.execute("SAVEPOINT job")
        try:
            result = await job.fn(conn)
        except _RETRYABLE as error:
            await conn.execute("ROLLBACK TO SAVEPOINT job")
            await conn.execute("RELEASE SAVEPOINT job")
            job.attempts += 1
            if job.attempts < MAX_RETRIES:
                return None
            failure = HubbubError("unavailable", "storage is too contended")
            failure.__cause__ = error
            return job, None, failure
        except Exception as error:  # the job alone is undone; the batch goes on
            await conn.execute("ROLLBACK TO SAVEPOINT job")
            await conn.execute("RELEASE SAVEPOINT job")
            return job, None, error
        await conn.execute("RELEASE SAVEPOINT job")
        return job, result, None

    async def _reset(self) -> None:
        """After a failed batch: roll back if the connection lives, else drop it (the next
        batch reconnects)."""
        conn = self._conn
        if conn is None:
            return
        if not conn.is_closed():
            try:
                await asyncio.wait_for(conn.execute("ROLLBACK"), 5)
                return
            except Exception:
                log.warning("rollback failed; reconnecting for the next batch")
        conn.terminate()
        self._conn = None
