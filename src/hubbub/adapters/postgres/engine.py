"""PostgreSQL I/O: one writer task doing group commit on its own connection, and a pool
for reads.

Group commit: every write call is a job (an async function of a connection). The writer
takes all jobs waiting in its queue (up to `max_batch`), runs them within ONE
transaction, COMMITs once (synchronous_commit=on: the WAL is flushed before the COMMIT
returns), and only then completes the callers' futures, in order. A failed COMMIT (or a
lost connection) fails every job of the batch with `unavailable`; the writer reconnects
for the next batch, so the store works again as soon as the database does.

No lock cycles, by construction. Several nodes write at once, so two batches may touch
the same rows. Every job names the lock keys of everything it will write (a user id for
the user's rows: its inbox head, inbox, devices, memberships; a conversation id for the
conversation's row and its members; a hash of a username before claiming it), and a batch
takes the advisory locks of all its jobs' keys at its start, in ascending order, before it
runs any job; a job writes nothing it holds no key for. So a batch waits only at its start,
for keys another batch holds, and a batch that holds keys waits for nothing more: no
transaction can wait on one that waits on it. A job that finds out it needs a key it does
not hold (the members of a group changed since the caller looked) raises `NeedsLocks`; it
is undone and run in the next batch with those keys, and so are the later jobs of the same
`order` (a device's sends stay in order).

Bulk: a job that is one call of a function other jobs of its batch also call (a send's
hubbub_append, an ack's hubbub_ack, a read's hubbub_read, a last-seen or a device-touch
update) carries a `Bulk`. The fast pass runs each run of such
jobs as one round trip per statement (hubbub_append_many: the same function in a loop, in
queue order), so a batch of a hundred sends and acks is a handful of round trips, not two
hundred, and holds its locks for that much less time. Sends keep their order among
themselves; an ack is moved before or after the sends around it, which no one can tell
apart (the entries an ack covers were committed before the device saw them). A job with
no Bulk ends a run: the jobs around it keep their order with it. A send that finds it
needs more keys (needs_locks) wrote nothing, and hubbub_append_many answers the sender's
later sends of the call 'deferred' without running them: those jobs go to the next batch
with the keys, the rest of the batch commits (no redo).

Savepoints: a job that is one statement of a function that never fails for a refusal
(hubbub_append, hubbub_ack, hubbub_read: they answer a status instead) runs without
one. Any job that raises makes the writer roll the whole batch back and run it again
with a SAVEPOINT per job, so a bad job is undone alone and the rest of the batch commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg

from hubbub.core.errors import HubbubError

log = logging.getLogger("hubbub.postgres")
T = TypeVar("T")
Job = Callable[[asyncpg.Connection], Awaitable[T]]

# a commit must be durable before the caller is answered: never let a server default weaken it
SERVER_SETTINGS = {"synchronous_commit": "on", "application_name": "hubbub"}
MAX_RETRIES = 5
# by design these do not happen (see above); if one does, the job is retried, not lost
_RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
_LOCK_SQL = "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k"
# a read that meets these is answered `unavailable` (the caller retries later): the socket
# or the server gone, the server shutting down or still starting after a crash (57P0x:
# "the database system is starting up" after a kill -9), or out of connections or disk
_UNREACHABLE = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
)


class NeedsLocks(Exception):
    """Raised by a job that must hold more keys: it is undone and run again with them."""

    def __init__(self, keys: Iterable[int]) -> None:
        super().__init__("needs more locks")
        self.keys = tuple(keys)


# rows of arguments (one per job, in queue order) and the batch's lock keys -> the answer,
# each record's first column `n` the 1-based row it belongs to
BulkStatement = Callable[
    [asyncpg.Connection, list[tuple[Any, ...]], list[int]], Awaitable[list[asyncpg.Record]]
]


@dataclass(frozen=True, slots=True)
class Bulk:
    """How the fast pass runs a job together with the batch's other jobs of `statement`."""

    statement: BulkStatement
    args: Callable[[], tuple[Any, ...]]  # the job's row of arguments, drawn when it runs
    finish: Callable[[list[asyncpg.Record]], Any]  # its records -> its result (may raise)


@dataclass(slots=True)
class _Job:
    fn: Job[Any]
    future: asyncio.Future[Any]
    locks: tuple[int, ...]
    order: int | None  # jobs of one order run in their queued order
    careful: bool  # run in a savepoint even in the fast pass
    bulk: Bulk | None = None
    attempts: int = 0
    extra: set[int] = field(default_factory=set)


_Outcome = tuple[_Job, Any, BaseException | None]


@dataclass(slots=True)
class _Pass:
    """What one transaction's jobs came to: outcomes, and the jobs for the next batch (a
    job that needs more keys, and every later job of its order)."""

    outcomes: list[_Outcome] = field(default_factory=list)
    later: list[_Job] = field(default_factory=list)
    waiting: set[int] = field(default_factory=set)  # orders with a job in `later`

    def waits(self, job: _Job) -> bool:
        return job.order is not None and job.order in self.waiting

    def record(self, results: list[tuple[_Job, _Outcome | None]]) -> None:
        for job, outcome in results:
            if outcome is not None:
                self.outcomes.append(outcome)
                continue
            self.later.append(job)
            if job.order is not None:
                self.waiting.add(job.order)


class _Redo(Exception):
    """The fast pass of a batch hit an error: run the batch again, carefully."""


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

    async def write(
        self,
        fn: Job[T],
        *,
        locks: Iterable[int] = (),
        order: int | None = None,
        savepoint: bool = True,
        bulk: Bulk | None = None,
    ) -> T:
        """Run fn in the next batch holding the advisory locks `locks` (every row fn
        writes must be covered by one); returns after the batch is committed (durably).
        `savepoint=False` for a job that cannot fail halfway (one statement). `bulk`: the
        same work as fn, gathered with the batch's other jobs of its statement (the fast
        pass runs that; a careful pass runs fn)."""
        if self._closed or self._writer is None:
            raise HubbubError("unavailable", "storage is shutting down")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(fn, future, tuple(locks), order, savepoint, bulk))
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
        except _UNREACHABLE as error:
            raise HubbubError("unavailable", "storage is unreachable") from error

    # -- the writer task ---------------------------------------------------------------

    async def _run(self) -> None:
        """The writer loop. It must outlive any failure of one batch: if it stopped, no
        write would ever complete again."""
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
        try:
            try:
                outcomes, later = await self._attempt(batch, careful=False)
            except _Redo as redo:  # a job failed without a savepoint: again, a savepoint each
                log.debug("batch of %d jobs redone carefully: %r", len(batch), redo.__cause__)
                outcomes, later = await self._attempt(batch, careful=True)
        except Exception as error:  # the commit failed or the connection is gone
            outcomes, later = self._failed(batch, error), []
        if self.on_retry:
            for job in later:
                if job.attempts:
                    self.on_retry()
        self._retry.extend(later)
        for job, result, err in outcomes:
            if job.future.cancelled():
                continue
            if err is None:
                job.future.set_result(result)
            else:
                job.future.set_exception(err)

    def _failed(self, batch: list[_Job], error: Exception) -> list[_Outcome]:
        log.error("commit of %d jobs failed: %s", len(batch), error)
        failure = HubbubError("unavailable", "storage failed to commit; nothing was stored")
        failure.__cause__ = error
        return [(job, None, failure) for job in batch]

    async def _attempt(
        self, batch: list[_Job], *, careful: bool
    ) -> tuple[list[_Outcome], list[_Job]]:
        """One transaction for the batch: its outcomes, and the jobs for the next batch."""
        if self._conn is None or self._conn.is_closed():
            self._conn = await self.connect()
        conn = self._conn
        done = _Pass()
        try:
            await conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            keys = sorted({k for job in batch for k in (*job.locks, *job.extra)})
            if keys:  # all of them, in one global order, before anything else
                await conn.execute(_LOCK_SQL, keys)
            run: list[_Job] = []  # bulk jobs gathered, not run yet (fast pass only)
            for job in batch:
                if not done.waits(job) and not careful and not job.careful and job.bulk:
                    run.append(job)
                    continue
                if run:
                    done.record(await self._run_bulk(conn, run, keys))
                    run = []
                if done.waits(job):
                    done.later.append(job)  # an earlier job of its order waits: so does it
                    continue
                outcome = await self._run_job(conn, job, careful or job.careful)
                done.record([(job, outcome)])
            if run:
                done.record(await self._run_bulk(conn, run, keys))
            started = time.perf_counter()
            await conn.execute("COMMIT")
            elapsed = time.perf_counter() - started
        except BaseException:  # _Redo included: this transaction is rolled back first
            await self._reset()
            raise
        if self.on_commit:
            self.on_commit(len(batch), elapsed)
        return done.outcomes, done.later

    async def _run_bulk(
        self, conn: asyncpg.Connection, run: list[_Job], keys: list[int]
    ) -> list[tuple[_Job, _Outcome | None]]:
        """A run of bulk jobs, one round trip per statement (in the order each statement
        first appears); each job with its outcome, in queue order, or with None when its
        statement answered that it needs more keys (NeedsLocks from `finish`: the
        statement wrote nothing for it, nor for the later jobs of its order, which it
        answers the same way). Any other error: the batch is redone."""
        by_statement: dict[BulkStatement, list[_Job]] = {}
        for job in run:
            assert job.bulk is not None
            by_statement.setdefault(job.bulk.statement, []).append(job)
        records: dict[int, list[asyncpg.Record]] = {id(job): [] for job in run}
        try:
            for statement, jobs in by_statement.items():
                rows = [job.bulk.args() for job in jobs if job.bulk is not None]
                for record in await statement(conn, rows, keys):
                    records[id(jobs[record[0] - 1])].append(record)
            done: list[tuple[_Job, _Outcome | None]] = []
            for job in run:
                assert job.bulk is not None
                try:
                    done.append((job, (job, job.bulk.finish(records[id(job)]), None)))
                except NeedsLocks as more:
                    job.extra.update(more.keys)
                    done.append((job, None))
            return done
        except Exception as error:
            raise _Redo from error

    async def _run_job(
        self, conn: asyncpg.Connection, job: _Job, savepoint: bool
    ) -> _Outcome | None:
        """Run one job: its outcome, or None to run it in the next batch. Without a
        savepoint, an error makes the whole batch run again carefully (_Redo)."""
        if not savepoint:
            try:
                return job, await job.fn(conn), None
            except Exception as error:
                raise _Redo from error
        await conn.execute("SAVEPOINT job")
        try:
            result = await job.fn(conn)
        except NeedsLocks as more:
            await self._undo(conn)
            job.extra.update(more.keys)
            return None
        except _RETRYABLE as error:
            await self._undo(conn)
            job.attempts += 1
            log.warning("a job was rolled back by %s; retrying it", type(error).__name__)
            if job.attempts < MAX_RETRIES:
                return None
            failure = HubbubError("unavailable", "storage is too contended")
            failure.__cause__ = error
            return job, None, failure
        except Exception as error:  # the job alone is undone; the batch goes on
            await self._undo(conn)
            return job, None, error
        await conn.execute("RELEASE SAVEPOINT job")
        return job, result, None

    async def _undo(self, conn: asyncpg.Connection) -> None:
        await conn.execute("ROLLBACK TO SAVEPOINT job")
        await conn.execute("RELEASE SAVEPOINT job")

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
