"""The change log (``citizen_changes``) as the cache listener reads it.

Each read runs in one REPEATABLE READ, read-only transaction so that the rows
and the snapshot bounds (``xmin``/``xmax``) describe the same instant: the
listener needs both to know which sequence numbers are settled (a transaction
may take seq 10, commit after the one that took seq 11, and must not be missed).
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

CHANNEL = "citizen_changes"
LISTENER_APP_NAME = "citizen-verify-listener"

_SNAPSHOT_SQL = """
SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin,
       pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax,
       (SELECT coalesce(max(seq), 0) FROM citizen_changes) AS top
"""

_CHANGES_SQL = """
SELECT seq, id_number, former_id, version FROM citizen_changes
WHERE seq > $1 ORDER BY seq LIMIT $2
"""


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    id_number: str  # 12 digits
    former_id: str | None  # 9 digits, when a former ID changed
    version: int | None  # the person's version after the change; None: gone or unknown


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    xmin: int  # oldest transaction still running when the rows were read
    xmax: int  # first transaction id not yet started then
    upto: int  # every change visible then with seq <= upto is in ``changes``
    changes: list[Change]


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


_START_SQL = """
SELECT (SELECT coalesce(max(seq), 0) FROM citizen_changes) AS top,
       pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax
"""


async def feed_start(conn: asyncpg.Connection, *, timeout_s: float) -> tuple[int, int]:
    """Where a new listener starts: the highest seq now, and the snapshot's xmax."""
    row = await conn.fetchrow(_START_SQL, timeout=timeout_s)
    assert row is not None
    return row["top"], row["xmax"]
