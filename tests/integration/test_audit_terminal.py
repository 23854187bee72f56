"""The audit stores the terminal of a check (migration 010) and the history reads it back."""

from __future__ import annotations

import datetime as dt

import asyncpg

from verify.adapters.audit import PgAuditWriter
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
