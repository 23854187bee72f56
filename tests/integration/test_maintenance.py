"""`verify maintenance`: partitions made ahead, dropped past retention; rows that waited in
the default partition moved into their day's; partitions of a server's time zone (made
before migration 006) followed without a gap or an overlap."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections.abc import AsyncIterator

import asyncpg
import orjson
import pytest

from tests.conftest import b64
from verify.adapters.audit import PgAuditWriter
from verify.adapters.audit_verify import verify_audit
from verify.adapters.maintenance import (
    MaintenanceReport,
    Partition,
    expired_partitions,
    run_maintenance,
)
from verify.cli import main
from verify.service.audit import AuditEntry
from verify.settings import Settings

UTC = dt.UTC


def _utc(day: dt.date, hour: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), UTC)


def test_expired_partitions_are_whole_partitions_past_retention() -> None:
    today = dt.date(2026, 11, 28)  # 180 days back: 2026-06-01 00:00 UTC
    plus7 = dt.timezone(dt.timedelta(hours=7))
    # a day of a server at +07 (before 006): [05-29 17:00 UTC, 05-30 17:00 UTC)
    zone_day = Partition(
        "audit_log_20260530",
        dt.datetime(2026, 5, 30, tzinfo=plus7),
        dt.datetime(2026, 5, 31, tzinfo=plus7),
    )
    # the part of 05-30 (UTC) after it, then UTC days
    tail = Partition("audit_log_20260530_170000", zone_day.hi, _utc(dt.date(2026, 5, 31)))
    utc_day = Partition("audit_log_20260531", tail.hi, _utc(dt.date(2026, 6, 1)))
    # another +07 day, ending after the cutoff: kept
    later_zone_day = Partition(
        "audit_log_20260601",
        dt.datetime(2026, 6, 1, tzinfo=plus7),
        dt.datetime(2026, 6, 2, tzinfo=plus7),
    )
    every = [later_zone_day, utc_day, tail, zone_day]
    assert expired_partitions(every, today, 180) == [zone_day, tail, utc_day]
    assert expired_partitions(every, today, 400) == []
    assert (zone_day.day, tail.day) == (dt.date(2026, 5, 29), dt.date(2026, 5, 30))


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


@pytest.fixture
async def writer(settings: Settings) -> AsyncIterator[PgAuditWriter]:
    """The audit writer as the server runs it: the serving role's pool."""
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    assert pool is not None
    yield PgAuditWriter(pool, timeout=5.0)
    await asyncio.wait_for(pool.close(), 10)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("VERIFY_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("VERIFY_ADMIN_DATABASE_URL", settings.owner_database_url)
    monkeypatch.setenv("VERIFY_REDIS_URL", settings.redis_url)
    monkeypatch.setenv("VERIFY_HMAC_KEY", b64(settings.hmac_key))
    monkeypatch.setenv("VERIFY_CACHE_KEY", b64(settings.cache_key))


def _entry(at: dt.datetime, n: int) -> AuditEntry:
    return AuditEntry(
        at=at, agency_id=1, request_id=f"r-{n}", kind="verify", purpose="kyc",
        subject=secrets.token_bytes(32), verdict="match", latency_ms=1.5, key_id="k1",
    )  # fmt: skip


async def _write(writer: PgAuditWriter, times: list[dt.datetime]) -> None:
    """One group commit (one batch of the chain) per row, so no batch spans partitions."""
    for n, at in enumerate(times):
        await writer.record([_entry(at, n)])


async def _only_partitions(pool: asyncpg.Pool, bounds: dict[str, tuple[str, str]]) -> None:
    """Replace every range partition (the template's, empty) with ``bounds``."""
    for name in await _partitions(pool):
        if name != "audit_log_default":
            await pool.execute(f'DROP TABLE "{name}"')
    for name, (lo, hi) in bounds.items():
        await pool.execute(
            f"CREATE TABLE {name} PARTITION OF audit_log FOR VALUES FROM ('{lo}') TO ('{hi}')"
        )


async def _rows(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    """Every row with every column, and the partition holding it."""
    return await pool.fetch(
        "SELECT tableoid::regclass::text AS part, * FROM audit_log ORDER BY seq"
    )


async def _maintain(pool: asyncpg.Pool, today: dt.date) -> MaintenanceReport:
    async with pool.acquire() as conn:
        return await run_maintenance(conn, retention_days=180, today=today)


async def _uncovered(pool: asyncpg.Pool, lo: dt.datetime, hi: dt.datetime) -> list[object]:
    return list(await pool.fetch("SELECT * FROM audit_uncovered($1, $2)", lo, hi))


async def test_maintenance_missed_for_ten_days_moves_the_waiting_rows(
    env: None, settings: Settings, writer: PgAuditWriter, pg_pool: asyncpg.Pool,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """The last run was 10 days ago (partitions up to 3 days ago, its look-ahead of 7):
    the rows of the days since waited in the default partition, and making those days'
    partitions failed ("updated partition constraint for default partition would be
    violated"), every run. Now they are moved, as they were, and the chain still holds."""
    today = dt.datetime.now(UTC).date()
    last_run = today - dt.timedelta(days=10)
    await _only_partitions(
        pg_pool,
        {
            f"audit_log_{d:%Y%m%d}": (_utc(d).isoformat(), _utc(d + dt.timedelta(1)).isoformat())
            for d in (last_run + dt.timedelta(days=i) for i in range(8))
        },
    )
    days = [today - dt.timedelta(days=d) for d in (5, 2, 1, 0)]
    await _write(writer, [_utc(d, h) for d in days for h in (1, 12, 23)])
    before = await _rows(pg_pool)
    waiting = [r for r in before if r["part"] == "audit_log_default"]
    assert len(waiting) == 9  # three days of three rows

    report = await _maintain(pg_pool, today)

    assert report.moved == 9 and report.in_default == 0
    assert report.created == 10  # 2 days ago to today + 7
    after = await _rows(pg_pool)
    assert [r["part"] for r in after] == [f"audit_log_{r['at'].date():%Y%m%d}" for r in after]
    # every column as it was, the chain's included: moved, not rewritten
    assert [dict(r) | {"part": ""} for r in after] == [dict(r) | {"part": ""} for r in before]
    assert (
        await _uncovered(pg_pool, _utc(today - dt.timedelta(2)), _utc(today + dt.timedelta(8)))
        == []
    )
    assert await asyncio.to_thread(main, ["audit", "verify"]) == 0
    assert "12 rows" in capsys.readouterr().out
    again = await _maintain(pg_pool, today)
    assert (again.created, again.moved) == (0, 0)
    # the serving role still writes into the new partitions, and cannot change them
    await _write(writer, [_utc(today - dt.timedelta(days=1), 6)])
    moved_into = f"audit_log_{today - dt.timedelta(1):%Y%m%d}"
    assert (await _rows(pg_pool))[-1]["part"] == moved_into
    serving = await asyncpg.connect(settings.database_url)
    try:
        for sql in (
            f"DELETE FROM {moved_into}",
            f"UPDATE {moved_into} SET verdict = 'x'",
            "UPDATE audit_log SET verdict = 'x'",
            "DELETE FROM audit_log",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await serving.execute(sql)
    finally:
        await serving.close()


@pytest.mark.parametrize("offset", ["+07:00", "-05:00"])
async def test_partitions_of_a_servers_time_zone_are_followed_without_gap_or_overlap(
    writer: PgAuditWriter, pg_pool: asyncpg.Pool, offset: str
) -> None:
    """Before 006, audit_log_YYYYMMDD was that day in the server's TimeZone. Ahead of UTC
    (+07) the next UTC day left the rest of the last old day to the default partition,
    where retention never reaches; behind UTC (-05) it overlapped, and maintenance failed."""
    today = dt.datetime.now(UTC).date()
    old_days = [today - dt.timedelta(days=d) for d in (3, 2, 1, 0)]
    await _only_partitions(
        pg_pool,
        {
            f"audit_log_{d:%Y%m%d}": (f"{d} 00:00{offset}", f"{d + dt.timedelta(1)} 00:00{offset}")
            for d in old_days
        },
    )
    # every hour of yesterday and today (UTC): some land in no old partition
    times = [_utc(today - dt.timedelta(days=1)) + dt.timedelta(hours=h) for h in range(48)]
    await _write(writer, times)
    before = await _rows(pg_pool)

    report = await _maintain(pg_pool, today)

    after = await _rows(pg_pool)
    assert [r["part"] for r in after if r["part"] == "audit_log_default"] == []
    assert report.moved == sum(r["part"] == "audit_log_default" for r in before)
    assert [dict(r) | {"part": ""} for r in after] == [dict(r) | {"part": ""} for r in before]
    start = _utc(old_days[0]) + dt.timedelta(days=1)
    assert await _uncovered(pg_pool, start, _utc(today + dt.timedelta(days=8))) == []
    async with pg_pool.acquire() as conn:
        checked = await verify_audit(conn)
    assert checked.intact and checked.rows == 48, checked.breaks
    # the old partitions are kept as they are; the first new one starts where they end
    bounds = {p.name: p for p in await _bounds(pg_pool)}
    last_old = bounds[f"audit_log_{today:%Y%m%d}"]
    assert last_old.lo == dt.datetime.fromisoformat(f"{today} 00:00{offset}")
    assert any(p.lo == last_old.hi for p in bounds.values())
    # past retention they go by their upper bound, recorded like any other day
    later = today + dt.timedelta(days=182)
    async with pg_pool.acquire() as conn:
        dropped = await run_maintenance(conn, retention_days=180, today=later)
    assert f"audit_log_{old_days[0]:%Y%m%d}" in dropped.dropped
    assert await pg_pool.fetchval("SELECT count(*) FROM audit_partition_drops") == len(
        dropped.dropped
    )


async def test_rows_in_the_default_partition_past_retention_are_moved_then_dropped(
    writer: PgAuditWriter, pg_pool: asyncpg.Pool
) -> None:
    """The default partition was never dropped by retention: its rows stayed forever."""
    today = dt.datetime.now(UTC).date()
    old = today - dt.timedelta(days=200)
    await _write(writer, [_utc(old, 10), _utc(old, 11)])
    assert {r["part"] for r in await _rows(pg_pool)} == {"audit_log_default"}
    report = await _maintain(pg_pool, today)
    assert report.moved == 2 and report.dropped == [f"audit_log_{old:%Y%m%d}"]
    assert await _rows(pg_pool) == []
    drop = await pg_pool.fetchrow("SELECT day, rows FROM audit_partition_drops")
    assert drop is not None and (drop["day"], drop["rows"]) == (old, 2)


async def test_rows_dated_beyond_the_look_ahead_stay_and_are_reported(
    writer: PgAuditWriter, pg_pool: asyncpg.Pool
) -> None:
    today = dt.datetime.now(UTC).date()
    await _write(writer, [_utc(today + dt.timedelta(days=30), 1)])
    report = await _maintain(pg_pool, today)
    assert (report.moved, report.in_default) == (0, 1)
    assert "audit_log_default" in {r["part"] for r in await _rows(pg_pool)}


async def _bounds(pool: asyncpg.Pool) -> list[Partition]:
    return [Partition(*r) for r in await pool.fetch("SELECT name, lo, hi FROM audit_partitions()")]


@pytest.mark.parametrize("link_kept", [True, False])
async def test_a_batch_across_a_zone_partitions_bound_stays_verifiable_after_its_drop(
    env: None, writer: PgAuditWriter, pg_pool: asyncpg.Pool, capsys: pytest.CaptureFixture[str],
    link_kept: bool,
) -> None:  # fmt: skip
    """A batch holds one UTC day at most, but a partition of a server's time zone (before
    006) does not hold whole UTC days: migration 006 chained the older rows in batches that
    run across its bounds. Dropping it past retention left the rest of such a batch, which
    no longer hashed to its link: `audit verify` failed on an intact audit."""
    day = dt.datetime.now(UTC).date() - dt.timedelta(days=200)
    plus7 = "+07:00"
    await _only_partitions(
        pg_pool,
        {
            f"audit_log_{d:%Y%m%d}": (f"{d} 00:00{plus7}", f"{d + dt.timedelta(1)} 00:00{plus7}")
            for d in (day, day + dt.timedelta(days=1))
        },
    )
    bound = _utc(day, 17)  # audit_log_{day} ends here, audit_log_{day + 1} begins
    before, after = bound - dt.timedelta(seconds=1), bound + dt.timedelta(seconds=1)
    await writer.record([_entry(_utc(day, 10), 0)])
    # one group commit across the bound; its link is on its last row (highest seq)
    across = (
        [_entry(after, 1), _entry(before, 2)]
        if not link_kept
        else [_entry(before, 1), _entry(after, 2)]
    )
    await writer.record(across)
    await writer.record([_entry(_utc(day, 18), 3)])
    batches = await pg_pool.fetchval("SELECT count(DISTINCT chain_batch) FROM audit_log")
    chains = await pg_pool.fetchval("SELECT count(DISTINCT chain_id) FROM audit_log")
    assert (batches, chains) == (3, 1)  # one chain: the crossing batch is number 2

    async with pg_pool.acquire() as conn:  # retention: audit_log_{day} ends before the cutoff
        report = await run_maintenance(conn, retention_days=180, today=day + dt.timedelta(days=181))
    assert report.dropped == [f"audit_log_{day:%Y%m%d}"]
    cut = await pg_pool.fetchval("SELECT cut FROM audit_partition_drops")
    assert [v["batch"] for v in orjson.loads(cut).values()] == [2]
    assert await asyncio.to_thread(main, ["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "2 rows" in out and "1 batches cut by a retention drop" in out
    # the rest of the cut batch is still protected where it can be: its link
    await pg_pool.execute("UPDATE audit_log SET verdict = 'no_match' WHERE request_id = 'r-3'")
    assert await asyncio.to_thread(main, ["audit", "verify"]) == 1


async def test_a_utc_day_partition_records_no_cut_batch_when_dropped(
    writer: PgAuditWriter, pg_pool: asyncpg.Pool
) -> None:
    """A UTC-day partition never cuts a batch (a batch spans one UTC day at most), so its
    drop records no ``cut``: a row inserted into it with the chain columns of the next
    day's batch (the serving role may INSERT any column) must not make that batch one
    that `audit verify` takes by its link instead of recomputing it."""
    day = dt.datetime.now(UTC).date() - dt.timedelta(days=200)
    await _only_partitions(
        pg_pool,
        {
            f"audit_log_{d:%Y%m%d}": (f"{d} 00:00+00:00", f"{d + dt.timedelta(1)} 00:00+00:00")
            for d in (day, day + dt.timedelta(days=1))
        },
    )
    await writer.record([_entry(_utc(day, 10), 0)])
    await writer.record([_entry(_utc(day + dt.timedelta(days=1), 10), 1)])
    cols = await pg_pool.fetchval(
        "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute "
        "WHERE attrelid = 'audit_log'::regclass AND attnum > 0 AND NOT attisdropped"
    )
    chosen = ", ".join("$1" if c == "at" else c for c in cols.split(", "))
    # a copy of the next day's row, dated in the day that expires, chain columns and all
    await pg_pool.execute(
        f"INSERT INTO audit_log ({cols}) SELECT {chosen} FROM audit_log WHERE request_id = 'r-1'",
        _utc(day, 23),
    )
    async with pg_pool.acquire() as conn:
        report = await run_maintenance(conn, retention_days=180, today=day + dt.timedelta(days=181))
    assert report.dropped == [f"audit_log_{day:%Y%m%d}"]
    assert orjson.loads(await pg_pool.fetchval("SELECT cut FROM audit_partition_drops")) == {}
