from __future__ import annotations

import datetime as dt

import asyncpg

from verify.adapters.maintenance import expired_partitions, run_maintenance


def test_expired_partitions_are_whole_days_past_retention() -> None:
    names = ["audit_log_20260530", "audit_log_20260531", "audit_log_default", "other_20200101"]
    today = dt.date(2026, 11, 28)  # 180 days back: 2026-06-01
    assert expired_partitions(names, today, 180) == ["audit_log_20260530", "audit_log_20260531"]
    assert expired_partitions(names, today, 400) == []


async def _partitions(pool: asyncpg.Pool) -> set[str]:
    rows = await pool.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'audit_log'::regclass"
    )
    return {r["relname"] for r in rows}


async def test_maintenance_drops_old_and_creates_ahead(pg_pool: asyncpg.Pool) -> None:
    today = dt.date.today()
    old = today - dt.timedelta(days=200)
    name = f"audit_log_{old:%Y%m%d}"
    end = old + dt.timedelta(days=1)
    await pg_pool.execute(
        f"CREATE TABLE {name} PARTITION OF audit_log FOR VALUES FROM ('{old}') TO ('{end}')"
    )
    async with pg_pool.acquire() as conn:
        report = await run_maintenance(conn, retention_days=180, today=today)
    partitions = await _partitions(pg_pool)
    assert report.dropped == [name] and name not in partitions
    ahead = today + dt.timedelta(days=7)
    assert f"audit_log_{ahead:%Y%m%d}" in partitions
    async with pg_pool.acquire() as conn:
        again = await run_maintenance(conn, retention_days=180, today=today)
    assert (again.created, again.dropped) == (0, [])


async def test_maintenance_prunes_the_old_change_log(pg_pool: asyncpg.Pool) -> None:
    await pg_pool.execute(
        "INSERT INTO citizen_changes (id_number, changed_at) VALUES"
        " (1, now() - interval '2 days'), (2, now() - interval '1 hour')"
    )
    async with pg_pool.acquire() as conn:
        report = await run_maintenance(conn, retention_days=180, today=dt.date.today())
    assert report.changes_pruned == 1
    assert await pg_pool.fetchval("SELECT array_agg(id_number) FROM citizen_changes") == [2]
