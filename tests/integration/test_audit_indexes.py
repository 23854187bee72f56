"""The index each audit row maintains (migration 024): only the one the access history
reads by; an existing database upgrades with its rows, chains and history intact."""

from __future__ import annotations

import datetime as dt

import asyncpg

from tests.support.schema import migrated_before
from verify.adapters.audit import PgAuditWriter
from verify.adapters.audit_verify import verify_audit
from verify.adapters.citizens import PgCitizens
from verify.adapters.migrate import migrate
from verify.service.audit import AuditEntry, subject_of

HMAC_KEY = b"k" * 32
SUBJECT = subject_of(HMAC_KEY, "001203012345")
FAR = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)

# every index on audit_log or one of its partitions, with the parent index it is a
# partition of (NULL for the parent's own)
INDEXES_SQL = """
SELECT i.indexrelid::regclass::text AS name, p.inhparent::regclass::text AS parent
FROM pg_index i
LEFT JOIN pg_inherits p ON p.inhrelid = i.indexrelid
WHERE i.indrelid = 'audit_log'::regclass
   OR i.indrelid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'audit_log'::regclass)
"""


def _entry(at: dt.datetime, agency_id: int, n: int) -> AuditEntry:
    return AuditEntry(
        at=at, agency_id=agency_id, request_id=f"r-{n}", kind="verify",
        purpose="airport_checkin", subject=SUBJECT, verdict="match", latency_ms=1.5 + n,
        key_id="0123456789abcdef",
    )  # fmt: skip


async def _indexes(conn: asyncpg.Connection | asyncpg.Pool) -> dict[str, str | None]:
    return {r["name"]: r["parent"] for r in await conn.fetch(INDEXES_SQL)}


async def test_an_audit_row_maintains_only_the_access_history_index(
    pg_pool: asyncpg.Pool,
) -> None:
    found = await _indexes(pg_pool)
    assert found["audit_log_by_subject"] is None
    # the partitions' indexes are all the access history's (one per partition)
    assert {parent for name, parent in found.items() if name != "audit_log_by_subject"} == {
        "audit_log_by_subject"
    }
    partitions = await pg_pool.fetchval(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'audit_log'::regclass"
    )
    assert len(found) == 1 + partitions


async def test_the_upgrade_drops_the_request_index_and_keeps_rows_chains_and_history(
    blank_url: str,
) -> None:
    conn = await asyncpg.connect(blank_url, timeout=10)
    try:
        await migrated_before(conn, 24)  # the audit as it was before 024
        await conn.execute("SELECT audit_ensure_partitions(1)")
        assert "audit_log_by_request" in await _indexes(conn)
        agency_id = await conn.fetchval("INSERT INTO agencies (name) VALUES ('sgn') RETURNING id")
        pool = await asyncpg.create_pool(blank_url, min_size=1, max_size=2)
        assert pool is not None
        try:
            now = dt.datetime.now(dt.UTC)
            writer = PgAuditWriter(pool, timeout=5)
            for n in range(3):
                await writer.record([_entry(now + dt.timedelta(milliseconds=n), agency_id, n)])
            await writer.aclose()
            stored = await conn.fetch("SELECT * FROM audit_log ORDER BY seq")

            applied = await migrate(conn)

            assert applied[0] == "024_audit_write_index.sql"  # then any later ones
            assert set(await _indexes(conn)) >= {"audit_log_by_subject"}
            assert "audit_log_by_request" not in await _indexes(conn)
            assert await conn.fetch("SELECT * FROM audit_log ORDER BY seq") == stored
            report = await verify_audit(conn)
            assert report.intact and report.rows == 3
            # the history still reads by subject; a request's rows by their day
            history = await PgCitizens(pool, timeout=5).history(
                SUBJECT, now - dt.timedelta(days=1), (FAR, 0), 10
            )
            assert [r.agency for r in history] == ["sgn"] * 3
            day = now.replace(hour=0, minute=0, second=0, microsecond=0)
            assert (
                await conn.fetchval(
                    "SELECT count(*) FROM audit_log"
                    " WHERE at >= $1 AND at < $1 + interval '1 day' AND request_id = 'r-1'",
                    day,
                )
                == 1
            )
        finally:
            await pool.close()
    finally:
        await conn.close()
