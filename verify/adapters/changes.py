"""The change log (``citizen_changes``) as the cache's change source: LISTEN plus reads.

Each read runs in one REPEATABLE READ, read-only transaction so that the rows
and the snapshot bounds (``xmin``/``xmax``) describe the same instant: the
listener needs both to know which sequence numbers are settled (a transaction
may take seq 10, commit after the one that took seq 11, and must not be missed).

The feed runs on a dedicated connection, never a pooled one (a notification
sent while it is down is lost: the listener replays from the log). Driver
errors become :class:`ChangeFeedUnavailable`, chained with ``from e``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg

from verify.domain.changes import Change, ChangeBatch, ChangeFeedUnavailable

CHANNEL = "citizen_changes"
LISTENER_APP_NAME = "citizen-verify-listener"
FEED_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)

_SNAPSHOT_SQL = """
SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin,
       pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax,
       (SELECT coalesce(max(seq), 0) FROM citizen_changes) AS top
"""

_CHANGES_SQL = """
SELECT seq, id_number, former_id, version FROM citizen_changes
WHERE seq > $1 ORDER BY seq LIMIT $2
"""

_START_SQL = """
SELECT (SELECT coalesce(max(seq), 0) FROM citizen_changes) AS top,
       pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax
"""


def _change(row: asyncpg.Record) -> Change:
    former = row["former_id"]
    return Change(
        seq=row["seq"],
        id_number=f"{row['id_number']:012d}",
        former_id=None if former is None else f"{former:09d}",
        version=row["version"],
    )


async def read_changes(
    conn: asyncpg.Connection, after: int, *, page: int, max_rows: int, timeout_s: float
) -> ChangeBatch:
    """The changes with ``seq > after`` (pages of ``page``, at most ~``max_rows``)."""
    changes: list[Change] = []
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        snap = await conn.fetchrow(_SNAPSHOT_SQL, timeout=timeout_s)
        assert snap is not None
        upto = snap["top"]
        while True:
            rows = await conn.fetch(_CHANGES_SQL, after, page, timeout=timeout_s)
            changes.extend(_change(r) for r in rows)
            if len(rows) < page:
                break
            after = rows[-1]["seq"]
            if len(changes) >= max_rows:
                upto = after  # the rest is read by the next call
                break
    return ChangeBatch(snap["xmin"], snap["xmax"], max(upto, 0), changes)


async def feed_start(conn: asyncpg.Connection, *, timeout_s: float) -> tuple[int, int]:
    """Where a new listener starts: the highest seq now, and the snapshot's xmax."""
    row = await conn.fetchrow(_START_SQL, timeout=timeout_s)
    assert row is not None
    return row["top"], row["xmax"]


class PgChangeFeed:
    """One LISTENing connection (``cache.sources.ChangeFeed``)."""

    def __init__(self, conn: asyncpg.Connection, *, timeout_s: float) -> None:
        self._conn = conn
        self._timeout = timeout_s

    @property
    def backend_pid(self) -> int | None:
        return None if self._conn.is_closed() else self._conn.get_server_pid()

    def is_closed(self) -> bool:
        return self._conn.is_closed()

    async def start(self) -> tuple[int, int]:
        try:
            return await feed_start(self._conn, timeout_s=self._timeout)
        except FEED_ERRORS as e:
            raise ChangeFeedUnavailable("the change log did not answer") from e

    async def read(self, after: int, *, page: int, max_rows: int) -> ChangeBatch:
        try:
            return await read_changes(
                self._conn, after, page=page, max_rows=max_rows, timeout_s=self._timeout
            )
        except FEED_ERRORS as e:
            raise ChangeFeedUnavailable("the change log did not answer") from e

    def close(self) -> None:
        if not self._conn.is_closed():
            self._conn.terminate()


class PgChangeSource:
    """Opens change feeds on dedicated connections (``cache.sources.ChangeSource``)."""

    def __init__(self, dsn: str, *, timeout_s: float, connect_timeout_s: float) -> None:
        self._dsn = dsn
        self._timeout = timeout_s
        self._connect_timeout = connect_timeout_s

    async def connect(self, wake: Callable[[], None]) -> PgChangeFeed:
        try:
            async with asyncio.timeout(self._connect_timeout + self._timeout):
                conn = await asyncpg.connect(
                    self._dsn,
                    timeout=self._connect_timeout,
                    command_timeout=self._timeout,  # BEGIN/COMMIT of read_changes included
                    server_settings={"application_name": LISTENER_APP_NAME},
                )
                try:
                    await conn.add_listener(CHANNEL, lambda *_: wake())
                    conn.add_termination_listener(lambda *_: wake())
                except BaseException:
                    conn.terminate()
                    raise
        except FEED_ERRORS as e:
            raise ChangeFeedUnavailable("cannot connect to the change log") from e
        return PgChangeFeed(conn, timeout_s=self._timeout)
