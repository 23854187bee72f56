"""Group commit of audit rows: rows of concurrent requests go to Postgres in one COPY.

``record`` returns only after the COPY holding its rows has committed, so an
answer is never sent unaudited (DESIGN.md invariant 1). While one COPY runs the
next group gathers; a failed COPY fails every waiter of its group with
DatabaseUnavailable (the request becomes a 503, not an unaudited answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

import asyncpg

from verify.adapters.pg import DB_ERRORS, connection
from verify.errors import DatabaseUnavailable
from verify.service.audit import AuditEntry

log = logging.getLogger("verify.audit")

COLUMNS = (
    "at", "agency_id", "request_id", "kind", "purpose", "subject", "verdict", "fields",
    "latency_ms",
)  # fmt: skip

Row = tuple[object, ...]


def _row(e: AuditEntry) -> Row:
    fields = list(e.fields) if e.fields is not None else None
    return (
        e.at, e.agency_id, e.request_id, e.kind, e.purpose, e.subject, e.verdict, fields,
        e.latency_ms,
    )  # fmt: skip


class PgAuditWriter:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        timeout: float,
        on_commit: Callable[[int, float], None] | None = None,
        on_depth: Callable[[int], None] | None = None,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        self._pool = pool
        self._timeout = timeout
        self._on_commit = on_commit
        self._on_depth = on_depth
        self._on_failure = on_failure
        self._rows: list[Row] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="audit-writer")

    async def record(self, entries: Sequence[AuditEntry]) -> None:
        if self._closing or self._task is None or self._task.done():
            raise DatabaseUnavailable("the audit log is not accepting rows")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._rows.extend(_row(e) for e in entries)
        self._waiters.append(future)
        self._wake.set()
        if self._on_depth is not None:
            self._on_depth(len(self._rows))
        await asyncio.shield(future)

    async def _run(self) -> None:
        while not (self._closing and not self._rows):
            await self._wake.wait()
            self._wake.clear()
            while self._rows:
                rows, waiters = self._rows, self._waiters
                self._rows, self._waiters = [], []
                if self._on_depth is not None:
                    self._on_depth(0)
                error = await self._copy(rows)
                if error is not None and self._on_failure is not None:
                    self._on_failure()
                for waiter in waiters:
                    if waiter.done():
                        continue
                    if error is None:
                        waiter.set_result(None)
                    else:
                        waiter.set_exception(DatabaseUnavailable("the audit log is unavailable"))

    async def _copy(self, rows: list[Row]) -> Exception | None:
        start = time.perf_counter()
        try:
            async with connection(self._pool, self._timeout) as conn, conn.transaction():
                await conn.copy_records_to_table(
                    "audit_log", records=rows, columns=COLUMNS, timeout=self._timeout
                )
        except (DatabaseUnavailable, *DB_ERRORS) as e:
            log.warning("audit copy failed", extra={"error": type(e).__name__})
            return e
        except Exception as e:  # a bug must fail the requests, never hang them
            log.exception("audit copy failed unexpectedly")
            return e
        if self._on_commit is not None:
            self._on_commit(len(rows), time.perf_counter() - start)
        return None

    async def aclose(self) -> None:
        """Flush what is queued, then stop (called from on_cleanup, after in-flight handlers)."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout=self._timeout * 5)
