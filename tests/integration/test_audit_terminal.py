"""The audit stores the terminal of a check (migration 010) and the history reads it back."""

from __future__ import annotations

import datetime as dt

import asyncpg

from verify.adapters.audit import PgAuditWriter
from verify.adapters.audit_chain import CANON_COLUMNS, canonical
from verify.adapters.audit_verify import verify_audit
from verify.adapters.citizens import PgCitizens
from verify.service.audit import AuditEntry, subject_of

HMAC_KEY = b"k" * 32
SUBJECT = subject_of(HMAC_KEY, "001203012345")


def _entry(at: dt.datetime, agency_id: int, terminal: str | None) -> AuditEntry:
    return AuditEntry(
        at=at, agency_id=agency_id, request_id=f"r-{terminal}", kind="verify",
        purpose="airport_checkin", subject=SUBJECT, verdict="match", latency_ms=1.0,
        terminal=terminal,
    )  # fmt: skip


async def test_terminal_is_written_and_read_back_with_the_history(pg_pool: asyncpg.Pool) -> None:
    agency_id = await pg_pool.fetchval(
        "INSERT INTO agencies (name) VALUES ('airport') RETURNING id"
    )
    now = dt.datetime.now(dt.UTC)
    writer = PgAuditWriter(pg_pool, timeout=5)
    await writer.record([_entry(now - dt.timedelta(seconds=2), agency_id, None)])
    await writer.record([_entry(now, agency_id, "SGN-T1-QUẦY 12")])
    await writer.aclose()
    far = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
    rows = await PgCitizens(pg_pool, timeout=5).history(
        SUBJECT, now - dt.timedelta(days=1), (far, 0), 10
    )
    assert [(r.agency, r.terminal) for r in rows] == [
        ("airport", "SGN-T1-QUẦY 12"),
        ("airport", None),
    ]


async def test_the_chain_covers_the_terminal(pg_pool: asyncpg.Pool) -> None:
    """Python's canonical bytes and SQL's audit_canonical agree on the terminal, and a
    terminal changed afterwards breaks the chain."""
    agency_id = await pg_pool.fetchval("INSERT INTO agencies (name) VALUES ('kiosk') RETURNING id")
    now = dt.datetime.now(dt.UTC)
    writer = PgAuditWriter(pg_pool, timeout=5)
    terminals = ("HAN-T2 Quầy 7", 'k"\\', None)
    await writer.record([_entry(now, agency_id, t) for t in terminals])
    await writer.aclose()
    cols = ", ".join(CANON_COLUMNS)
    rows = await pg_pool.fetch(f"SELECT audit_canonical(l) AS sql, {cols} FROM audit_log l")
    assert sorted(r["terminal"] or "" for r in rows) == sorted(t or "" for t in terminals)
    for r in rows:
        assert bytes(r["sql"]) == canonical(tuple(r[c] for c in CANON_COLUMNS))
    async with pg_pool.acquire() as conn:
        assert (await verify_audit(conn, None)).intact
        await conn.execute("UPDATE audit_log SET terminal = 'SGN-T1' WHERE terminal IS NULL")
        assert not (await verify_audit(conn, None)).intact
