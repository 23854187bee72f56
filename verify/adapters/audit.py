"""Group commit of audit rows: rows of concurrent requests go to Postgres in one COPY.

``record`` returns only after the COPY holding its rows has committed, so an
answer is never sent unaudited (DESIGN.md invariant 1). While one COPY runs the
next group gathers; a failed COPY fails every waiter of its group with
DatabaseUnavailable (the request becomes a 503, not an unaudited answer).

Each COPY appends a link to the hash chain of the slot that ran it
(verify/adapters/audit_chain.py): one chain per slot, so the links of a chain are
computed and committed one batch after the other while the slots commit in parallel,
and instances never coordinate. The link columns travel in the same COPY as the rows
(one statement, atomic, no extra round trip).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

import asyncpg

from verify.adapters.audit_chain import CANON_COLUMNS, CHAIN_COLUMNS, Chain
from verify.adapters.pg import DB_ERRORS, connection
from verify.errors import DatabaseUnavailable
from verify.service.audit import AuditEntry

log = logging.getLogger("verify.audit")

COLUMNS = CANON_COLUMNS + CHAIN_COLUMNS

Row = tuple[object, ...]


def _row(e: AuditEntry) -> Row:
    """The entry in CANON_COLUMNS order (the chain columns are added when sealed)."""
    fields = list(e.fields) if e.fields is not None else None
    return (
        e.at, e.agency_id, e.key_id, e.request_id, e.kind, e.purpose, e.subject, e.verdict,
        fields, e.latency_ms, e.terminal,
    )  # fmt: skip


class PgAuditWriter:
    """Group commit with up to ``max_in_flight`` COPYs at once.

    Rows recorded during one event-loop tick are flushed together; while every
    slot is busy, rows gather, and the next free slot takes all of them. Several
    commits in flight let PostgreSQL flush their WAL together, so a request waits
    about one commit, not the commits queued before it.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        timeout: float,
        max_in_flight: int = 4,
        on_commit: Callable[[int, float], None] | None = None,
        on_depth: Callable[[int], None] | None = None,
        on_failure: Callable[[], None] | None = None,
        new_chain: Callable[[], Chain] = Chain,
    ) -> None:
        self._pool = pool
        self._timeout = timeout
        # last in, first out: a quiet writer keeps extending one chain
        self._chains: asyncio.LifoQueue[Chain] = asyncio.LifoQueue()
        for _ in range(max_in_flight):
            self._chains.put_nowait(new_chain())
        self._on_commit = on_commit
        self._on_depth = on_depth
        self._on_failure = on_failure
        self._rows: list[Row] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    async def record(self, entries: Sequence[AuditEntry]) -> None:
        if self._closing:
            raise DatabaseUnavailable("the audit log is not accepting rows")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._rows.extend(_row(e) for e in entries)
        self._waiters.append(future)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._dispatch)
        await asyncio.shield(future)

    def _dispatch(self) -> None:
        self._scheduled = False
        if self._on_depth is not None:
            self._on_depth(len(self._rows))
        task = asyncio.get_running_loop().create_task(self._flush())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self) -> None:
        chain = await self._chains.get()
        try:
            rows, waiters = self._rows, self._waiters
            if not rows:
                return  # an earlier flush took them while this one waited for a slot
            self._rows, self._waiters = [], []
            error = await self._seal_and_copy(chain, rows)
            if error is not None:
                chain.restart()  # committed or not, unknown: this chain ends here
        finally:
            self._chains.put_nowait(chain)
        if error is not None and self._on_failure is not None:
            self._on_failure()
        for waiter in waiters:
            if waiter.done():
                continue
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(DatabaseUnavailable("the audit log is unavailable"))

    async def _seal_and_copy(self, chain: Chain, rows: list[Row]) -> Exception | None:
        """COPY the rows with their links; the chain's head moves only once they commit."""
        try:
            records, batch, head = chain.seal(rows)
        except Exception as e:  # a bug must fail the requests, never hang them
            # its kind only: a message or traceback can carry the row's values
            log.error("audit rows could not be sealed", extra={"error": type(e).__name__})
            return e
        error = await self._copy(records)
        if error is None:
            chain.advance(batch, head)
        return error

    async def _copy(self, rows: list[Row]) -> Exception | None:
        start = time.perf_counter()
        try:
            # one COPY statement commits atomically on its own: no BEGIN/COMMIT round trips
            async with connection(self._pool, self._timeout) as conn:
                await conn.copy_records_to_table(
                    "audit_log", records=rows, columns=COLUMNS, timeout=self._timeout
                )
        except (DatabaseUnavailable, *DB_ERRORS) as e:
            log.warning("audit copy failed", extra={"error": type(e).__name__})
            return e
        except Exception as e:  # a bug must fail the requests, never hang them
            log.error("audit copy failed unexpectedly", extra={"error": type(e).__name__})
            return e
        if self._on_commit is not None:
            self._on_commit(len(rows), time.perf_counter() - start)
        return None

    async def aclose(self) -> None:
        """Flush what is queued, then refuse more (on_cleanup, after in-flight handlers)."""
        self._closing = True
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=self._timeout * 5)
