"""Group commit of audit rows: rows of concurrent requests go to Postgres in one statement.

``record`` returns only after the statement holding its rows has committed, so an
answer is never sent unaudited (DESIGN.md invariant 1). While one commit runs the
next group gathers; a failed commit fails every waiter of its group with
DatabaseUnavailable (the request becomes a 503, not an unaudited answer).

Each commit appends a link to the hash chain of the slot that ran it
(verify/adapters/audit_chain.py): one chain per slot, so the links of a chain are
computed and committed one batch after the other while the slots commit in parallel,
and instances never coordinate. The link columns travel in the same statement as the rows
(one statement, atomic, no extra round trip).

A commit's rows travel in one statement, one round trip (verify/adapters/audit_rows.py):
a binary COPY of records holding the values that were hashed (commits of ``copy_rows`` rows
or more: every commit by default, VERIFY_AUDIT_COPY_ROWS), or one prepared INSERT ...
SELECT FROM jsonb_array_elements of the rows' canonical bytes. audit_rows.py has what each
costs this process and Postgres, measured. Sealing (the canonical bytes, their link) costs
the same either way (``python -m loadtest.audit_seal``).

Where Postgres spends a row (``perf`` of a backend, 12 rows a commit, INSERT): B-tree
inserts, buffer management and the kernel (WAL writes, fsync) make most of it; parsing
the document is ~3 %. So an INSERT ... FROM unnest(typed arrays) saves Postgres little
(measured: none at 12 rows a commit, ~3 us a row at 1,000) and costs this process more
(asyncpg encodes an array element by element); a `json` document instead of `jsonb` cost
Postgres 15 us more a row (every ``->>`` re-reads the element). COPY saves Postgres 20-25 %
a row: no per-row executor work, and heap_multi_insert writes one WAL record per page of
rows. What is left is the index each row maintains (migration 024 left one) and its WAL.
Rows take their ``seq`` in the order their links hash them in (COPY: the records' order;
INSERT: WITH ORDINALITY ... ORDER BY).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from verify.adapters.audit_chain import (
    CANON_COLUMNS,
    CHAIN_COLUMNS,
    Chain,
    Sealed,
    SealedRecords,
)
from verify.adapters.audit_rows import copy, statement
from verify.adapters.pg import DB_ERRORS, connection
from verify.errors import DatabaseUnavailable
from verify.service.audit import AuditEntry

log = logging.getLogger("verify.audit")

COLUMNS = CANON_COLUMNS + CHAIN_COLUMNS

Row = tuple[object, ...]

# commits of this many rows or more go by binary COPY, fewer by the prepared INSERT: COPY
# costs less CPU in all at every size measured (audit_rows.py), so every commit by default
COPY_ROWS = 1

# rows waiting that start another commit beside one in flight: well above what a commit of
# single verifies gathers (about 10-20), below a batch request (up to 1,000)
SPILL_ROWS = 64


def _settle(waiters: list[asyncio.Future[None]], error: Exception | None) -> None:
    for waiter in waiters:
        if waiter.done():  # its request was cancelled
            continue
        if error is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(DatabaseUnavailable("the audit log is unavailable"))


def _row(e: AuditEntry) -> Row:
    """The entry in CANON_COLUMNS order, for a COPY (the job chunks' transaction)."""
    fields = list(e.fields) if e.fields is not None else None
    return (
        e.at, e.agency_id, e.key_id, e.request_id, e.kind, e.purpose, e.subject, e.verdict,
        fields, e.latency_ms, e.terminal,
    )  # fmt: skip


class PgAuditWriter:
    """Group commit: one commit in flight, more (up to ``max_in_flight``) for a backlog.

    Rows recorded during one event-loop tick are flushed together by an idle slot when no
    commit is in flight. While one is, rows gather, and the slot takes all of them when its
    commit is done: classic group commit. Each commit costs PostgreSQL about as much CPU as
    a dozen rows (the WAL flush of a synchronous commit, the statement), so fuller groups
    cost it less per row; a request waits for at most the commit before its own. Another
    slot starts while commits are in flight only once ``spill_rows`` rows are waiting (a
    batch, a burst, a slow commit): a backlog is then written by several backends at once
    and no request waits behind more than one commit's worth of rows.

    A slot is a task that commits as long as rows are waiting, then goes idle; a tick
    starts one only when a slot is idle. While all are busy a tick costs nothing but its
    append (no task per tick waiting for a slot, to find the rows gone when it gets one).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        timeout: float,
        max_in_flight: int = 4,
        spill_rows: int = SPILL_ROWS,
        on_commit: Callable[[int, float], None] | None = None,
        on_depth: Callable[[int], None] | None = None,
        on_failure: Callable[[], None] | None = None,
        new_chain: Callable[[], Chain] = Chain,
        copy_rows: int = COPY_ROWS,
    ) -> None:
        self._pool = pool
        self._copy_rows = copy_rows  # commits of this many rows or more go by COPY
        self._timeout = timeout
        # the idle slots' chains, last in first out: a quiet writer keeps extending one chain
        self._idle: list[Chain] = [new_chain() for _ in range(max_in_flight)]
        self._slots = max_in_flight
        self._spill_rows = spill_rows
        self._on_commit = on_commit
        self._on_depth = on_depth
        self._on_failure = on_failure
        self._entries: list[AuditEntry] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._big_in_flight = 0  # commits in flight holding spill_rows rows or more

    async def record(self, entries: Sequence[AuditEntry]) -> None:
        if self._closing:
            raise DatabaseUnavailable("the audit log is not accepting rows")
        if not entries:
            return  # nothing to commit, nothing to wait for
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._entries.extend(entries)  # as they are: the slot reads them once, per commit
        self._waiters.append(future)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._dispatch)
        # no shield: a cancelled request cancels only its own future, which the slot then
        # skips; its rows are written all the same
        await future

    def _dispatch(self) -> None:
        """End of the tick: an idle slot takes what it recorded when no commit is in flight
        or ``spill_rows`` rows wait; else the first slot to finish its commit will (a busy
        slot looks for waiting rows before it goes idle, with no await in between)."""
        self._scheduled = False
        waiting = len(self._entries)
        if self._on_depth is not None:
            _notify(self._on_depth, waiting)
        if not waiting or not self._idle or not self._may_take(waiting, busy=0):
            return
        task = asyncio.get_running_loop().create_task(self._slot(self._idle.pop()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _may_take(self, waiting: int, busy: int) -> bool:
        """Whether a slot (idle, or ``busy`` = 1: the one asking, its commit done) may commit
        the ``waiting`` rows beside the commits in flight: when none is, when a backlog of
        ``spill_rows`` waits, or when one in flight is that large (a batch): a single
        verify does not wait behind a 1,000-row commit."""
        others = self._slots - len(self._idle) - busy
        return others == 0 or waiting >= self._spill_rows or self._big_in_flight > 0

    async def _slot(self, chain: Chain) -> None:
        """Commit what is waiting, again until nothing is; then the chain goes idle (with no
        await between the last look and that, so no row is left without a slot).

        The slot keeps the pool connection of its first commit for the commits that follow
        back to back (one acquire and release per run, not per commit). It gives it back
        after a failed commit (the pool replaces a broken connection) and once idle: a row
        recorded meanwhile finds the slot idle, and a quiet writer keeps extending one chain.
        """
        held = _Held(self._pool, self._timeout)
        first = True
        try:
            # after its first commit a slot goes on only as _may_take says: the last one
            # busy always does, so once a spill is written the writer is back to one commit
            # in flight (fuller groups), and no row is left without a slot
            while self._entries and (first or self._may_take(len(self._entries), busy=1)):
                first = False
                entries, waiters = self._entries, self._waiters
                self._entries, self._waiters = [], []
                big = len(entries) >= self._spill_rows
                self._big_in_flight += big
                try:
                    error = await self._seal_and_insert(held, chain, entries)
                finally:
                    self._big_in_flight -= big
                if error is not None:
                    chain.restart()  # committed or not, unknown: this chain ends here
                    if self._on_failure is not None:
                        _notify(self._on_failure)
                    # closed at once, not reset: behind a stalled server a graceful release
                    # would wait out the query's cancellation while rows wait for this slot
                    held.discard()
                _settle(waiters, error)
                if error is not None:
                    await held.release()  # a fresh connection for the next commit
        finally:
            self._idle.append(chain)
            await held.release()

    async def _seal_and_insert(
        self, held: _Held, chain: Chain, entries: list[AuditEntry]
    ) -> Exception | None:
        """Write the rows with their links (COPY or INSERT); the chain's head moves only once
        they commit."""
        try:
            if len(entries) >= self._copy_rows:
                sealed: Sealed | SealedRecords = chain.seal_records(entries)
            else:
                sealed = chain.seal_entries(entries)
        except Exception as e:  # a bug must fail the requests, never hang them
            # its kind only: a message or traceback can carry the row's values
            log.error("audit rows could not be sealed", extra={"error": type(e).__name__})
            return e
        error = await self._insert(held, sealed, chain, entries)
        if error is None:
            chain.advance(sealed.batch, sealed.head)
        return error

    async def _insert(
        self, held: _Held, sealed: Sealed | SealedRecords, chain: Chain,
        entries: list[AuditEntry],
    ) -> Exception | None:  # fmt: skip
        start = time.perf_counter()
        try:
            conn = await held.connection()
            # one statement commits atomically on its own: no BEGIN/COMMIT round trips
            if isinstance(sealed, SealedRecords):
                await copy(conn, sealed.records, self._timeout)
            else:
                sql, args = statement(sealed, chain)
                await conn.execute(sql, *args, timeout=self._timeout)
        except (DatabaseUnavailable, *DB_ERRORS) as e:
            log.warning("audit insert failed", extra={"error": type(e).__name__})
            return e
        except Exception as e:  # a bug must fail the requests, never hang them
            log.error("audit insert failed unexpectedly", extra={"error": type(e).__name__})
            return e
        if self._on_commit is not None:
            _notify(self._on_commit, len(entries), time.perf_counter() - start)
        return None

    async def aclose(self) -> None:
        """Flush what is queued, then refuse more (on_cleanup, after in-flight handlers)."""
        self._closing = True
        if self._entries:
            self._dispatch()  # rows of this very tick: their slot starts now, not after
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self._timeout * 5)


class _Held:
    """A slot's pool connection: acquired (within the timeout) for the first commit of a
    run, kept for the commits that follow, given back when the run ends. A failure to give
    it back is logged, never raised: the pool drops a connection it cannot reset."""

    __slots__ = ("_conn", "_pool", "_stack", "_timeout")

    def __init__(self, pool: asyncpg.Pool, timeout: float) -> None:
        self._pool = pool
        self._timeout = timeout
        self._stack = AsyncExitStack()
        self._conn: PoolConnectionProxy | None = None

    async def connection(self) -> PoolConnectionProxy:
        if self._conn is None:
            self._conn = await self._stack.enter_async_context(
                connection(self._pool, self._timeout)
            )
        return self._conn

    def discard(self) -> None:
        """Close the connection at once (after a failed commit): the pool then opens a
        fresh one instead of resetting this one, which waits on a stalled server."""
        if self._conn is not None:
            try:
                self._conn.terminate()
            except asyncpg.InterfaceError:
                pass  # the server closed it and the pool took it back: nothing to close
            except Exception as e:  # a bug: logged by kind, the release still runs
                log.error("audit connection close failed", extra={"error": type(e).__name__})

    async def release(self) -> None:
        if self._conn is None:
            return
        self._conn = None
        try:
            await self._stack.aclose()
        except (DatabaseUnavailable, *DB_ERRORS) as e:
            log.warning("audit connection release failed", extra={"error": type(e).__name__})
        except Exception as e:  # a bug: logged by kind, the writer goes on
            log.error("audit connection release failed", extra={"error": type(e).__name__})


def _notify(observer: Callable[..., None], *args: float) -> None:
    """An observer (metrics) failing must not strand the rows of a slot or skip the chain's
    advance after a commit: its kind is logged, the writer goes on."""
    try:
        observer(*args)
    except Exception as e:
        log.error("audit observer failed", extra={"error": type(e).__name__})
