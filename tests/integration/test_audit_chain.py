"""The audit's hash chains: written by the group commit, recomputed by `verify audit verify`.

Rows are tampered with through the owner's connection (``pg_pool``): the serving role
cannot change them at all (tests/integration/test_roles.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import secrets
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import b64
from verify.adapters.audit import PgAuditWriter
from verify.adapters.audit_chain import CANON_COLUMNS, canonical
from verify.adapters.audit_verify import Report, chain_heads, verify_audit
from verify.adapters.maintenance import run_maintenance
from verify.cli import main
from verify.errors import DatabaseUnavailable
from verify.service.audit import AuditEntry
from verify.settings import Settings

NOW = dt.datetime.now(dt.UTC)


def entry(n: int, at: dt.datetime = NOW, **changes: object) -> AuditEntry:
    values: dict[str, object] = {
        "at": at + dt.timedelta(microseconds=n),
        "agency_id": 1 + n % 3,
        "request_id": f"req-{n}",
        "kind": "verify",
        "purpose": "airport_checkin",
        "subject": secrets.token_bytes(32),
        "verdict": "match",
        "latency_ms": 1.2345678 + n,
        "key_id": "0123456789abcdef",
    }
    values.update(changes)
    return AuditEntry(**values)  # type: ignore[arg-type]


@pytest.fixture(params=["insert", "copy"])
async def writer(
    settings: Settings, request: pytest.FixtureRequest
) -> AsyncIterator[PgAuditWriter]:
    """The writer on the serving role's pool, 4 commits in flight; any waiting row starts an
    idle slot (``spill_rows=1``, as a backlog does in the server), so the rows of these
    tests' few groups land in several chains. Commits by INSERT, or by COPY."""
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=4)
    assert pool is not None
    copy_rows = 1 << 62 if request.param == "insert" else 1
    yield PgAuditWriter(pool, timeout=5.0, spill_rows=1, copy_rows=copy_rows)
    await asyncio.wait_for(pool.close(), 10)


async def write(writer: PgAuditWriter, entries: Sequence[AuditEntry], groups: int = 6) -> None:
    """``entries`` recorded concurrently in ``groups`` calls (several batches, slots, chains)."""
    size = -(-len(entries) // groups)
    chunks = [entries[i : i + size] for i in range(0, len(entries), size)]
    tasks = []
    for chunk in chunks:  # each in its own tick: its own commit, often while another runs
        tasks.append(asyncio.ensure_future(writer.record(chunk)))
        for _ in range(3):
            await asyncio.sleep(0)
    await asyncio.gather(*tasks)


async def check(pool: asyncpg.Pool, day: dt.date | None = None) -> Report:
    async with pool.acquire() as conn:
        return await verify_audit(conn, day)


async def test_canonical_bytes_agree_with_the_sql_definition(
    writer: PgAuditWriter, pg_pool: asyncpg.Pool
) -> None:
    await writer.record(
        [
            entry(1),
            entry(2, fields=("full_name", "address"), verdict=None, key_id=None),
            entry(3, purpose='đi lại "quote" \\ \n', latency_ms=None, fields=()),
            entry(4, request_id="r\u0001\u007f", latency_ms=0.1),
            entry(5, latency_ms=None, verdict=None),  # trailing nulls
        ]
    )
    cols = ", ".join(CANON_COLUMNS)
    rows = await pg_pool.fetch(f"SELECT audit_canonical(l) AS sql, {cols} FROM audit_log l")
    assert len(rows) == 5
    for r in rows:
        assert bytes(r["sql"]) == canonical(tuple(r[c] for c in CANON_COLUMNS))


async def test_an_intact_log_verifies(writer: PgAuditWriter, pg_pool: asyncpg.Pool) -> None:
    await write(writer, [entry(n) for n in range(60)])
    report = await check(pg_pool)
    assert report.intact, report.breaks
    assert report.rows == 60
    assert report.batches >= 2 and report.chains >= 1
    assert (await check(pg_pool, NOW.date())).rows == 60
    assert (await check(pg_pool, NOW.date() - dt.timedelta(days=1))).rows == 0


async def _batch_of(pool: asyncpg.Pool, request_id: str) -> tuple[str, int]:
    row = await pool.fetchrow(
        "SELECT chain_id::text, chain_batch FROM audit_log WHERE request_id = $1", request_id
    )
    assert row is not None
    return row["chain_id"], row["chain_batch"]


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE audit_log SET verdict = 'no_match' WHERE request_id = 'req-17'",
        "UPDATE audit_log SET purpose = 'marketing' WHERE request_id = 'req-17'",
        "UPDATE audit_log SET at = at - interval '1 hour' WHERE request_id = 'req-17'",
        "UPDATE audit_log SET subject = '\\x00' WHERE request_id = 'req-17'",
        "DELETE FROM audit_log WHERE request_id = 'req-17'",
    ],
)
async def test_a_changed_or_deleted_row_names_its_link(
    writer: PgAuditWriter, pg_pool: asyncpg.Pool, tamper: str
) -> None:
    await write(writer, [entry(n) for n in range(40)])
    chain, batch = await _batch_of(pg_pool, "req-17")
    await pg_pool.execute(tamper)
    report = await check(pg_pool)
    assert not report.intact
    assert (report.breaks[0].chain, report.breaks[0].batch) == (chain, batch)


@pytest.mark.parametrize("at", ["infinity", "-infinity", "10000-01-01 00:00+00", "1900-01-01"])
async def test_a_row_dated_out_of_any_range_is_still_checked(
    writer: PgAuditWriter, pg_pool: asyncpg.Pool, settings: Settings, at: str
) -> None:
    """`audit verify` of all days read 1970 to 9999 only: a row the serving role inserted
    with a time outside that (it lands in audit_log_default) was never looked at."""
    await write(writer, [entry(n) for n in range(5)])
    serving = await asyncpg.connect(settings.database_url)
    try:
        await serving.execute(
            "INSERT INTO audit_log (at, agency_id, request_id, kind, purpose, subject)"
            f" VALUES ('{at}', 1, 'forged', 'verify', 'kyc', '\\x01')"
        )
    finally:
        await serving.close()
    report = await check(pg_pool)
    assert report.rows == 6 and not report.intact
    assert [b.reason for b in report.breaks] == [
        "a row in no chain (added out of band)"
        if at == "1900-01-01"
        else "a row dated outside any day (out of band)"
    ]


async def test_an_inserted_row_is_caught(writer: PgAuditWriter, pg_pool: asyncpg.Pool) -> None:
    await write(writer, [entry(n) for n in range(20)])
    chain, batch = await _batch_of(pg_pool, "req-5")
    cols = ", ".join(CANON_COLUMNS)
    copy = f"INSERT INTO audit_log ({cols}, chain_id, chain_batch) SELECT {cols}, chain_id,"
    await pg_pool.execute(f"{copy} chain_batch FROM audit_log WHERE request_id = 'req-5'")
    report = await check(pg_pool)
    assert [(b.chain, b.batch) for b in report.breaks] == [(chain, batch)]
    # a row outside any chain is named too
    await pg_pool.execute(
        f"INSERT INTO audit_log ({cols}) SELECT {cols} FROM audit_log WHERE request_id = 'req-6'"
    )
    assert any(b.chain == "-" for b in (await check(pg_pool)).breaks)


async def test_a_whole_missing_batch_is_a_gap(writer: PgAuditWriter, pg_pool: asyncpg.Pool) -> None:
    for n in range(4):  # one chain, four batches
        await writer.record([entry(10 * n + i) for i in range(3)])
    chain, batch = await _batch_of(pg_pool, "req-10")
    assert batch == 2
    await pg_pool.execute("DELETE FROM audit_log WHERE chain_batch = 2")
    report = await check(pg_pool)
    assert [(b.chain, b.batch) for b in report.breaks] == [(chain, 3)]
    assert "missing" in report.breaks[0].reason


async def test_a_truncated_end_is_caught_against_exported_heads(
    writer: PgAuditWriter, pg_pool: asyncpg.Pool
) -> None:
    for n in range(4):
        await writer.record([entry(10 * n + i) for i in range(3)])
    async with pg_pool.acquire() as conn:
        heads = await chain_heads(conn)
    assert [h.batch for h in heads] == [4]
    await pg_pool.execute("DELETE FROM audit_log WHERE chain_batch = 4")
    assert (await check(pg_pool)).intact  # nothing inside says the chain went further
    async with pg_pool.acquire() as conn:
        report = await verify_audit(conn, None, heads)
    assert [(b.chain, b.batch) for b in report.breaks] == [(heads[0].chain, 4)]


async def test_a_commit_across_midnight_makes_one_batch_per_day(
    writer: PgAuditWriter, pg_pool: asyncpg.Pool
) -> None:
    midnight = dt.datetime.combine(NOW.date(), dt.time(), dt.UTC)
    before = midnight - dt.timedelta(microseconds=100)
    entries = [entry(n, at=before) for n in range(0, 200, 20)]  # both sides of midnight
    await writer.record(entries)
    await writer.record([entry(n, at=NOW) for n in range(3)])
    batches = await pg_pool.fetch(
        "SELECT chain_batch, min(at)::date AS first, max(at)::date AS last FROM audit_log"
        " GROUP BY chain_batch ORDER BY chain_batch"
    )
    assert [b["chain_batch"] for b in batches] == [1, 2, 3]
    assert all(b["first"] == b["last"] for b in batches)
    assert (await check(pg_pool)).intact
    assert (await check(pg_pool, NOW.date())).intact  # anchored on the day before's last link
    assert (await check(pg_pool, NOW.date() - dt.timedelta(days=1))).rows == 5


async def test_rows_from_before_the_chain_are_chained_by_the_migration(
    pg_pool: asyncpg.Pool,
) -> None:
    cols = "at, agency_id, request_id, kind, purpose, subject, verdict, fields, latency_ms"
    await pg_pool.execute(
        f"INSERT INTO audit_log ({cols}) SELECT now() - (i || ' hours')::interval, 1,"
        " 'old-' || i, 'verify', NULL, sha256(int4send(i)), 'match', NULL, i / 7.0"
        " FROM generate_series(1, 50) i"
    )
    assert await pg_pool.fetchval("SELECT audit_chain_unchained(7)") == 50
    report = await check(pg_pool)
    assert report.intact, report.breaks
    assert report.rows == 50 and report.batches >= 8  # at most 7 rows, one day each
    await pg_pool.execute("UPDATE audit_log SET verdict = 'no_match' WHERE request_id = 'old-9'")
    assert not (await check(pg_pool)).intact


async def test_dropping_a_day_past_retention_is_recorded_and_keeps_chains_verifiable(
    writer: PgAuditWriter, pg_pool: asyncpg.Pool
) -> None:
    today = NOW.date()
    old = [today - dt.timedelta(days=d) for d in (200, 199)]
    for day in old:
        start = dt.datetime.combine(day, dt.time(), dt.UTC)
        end = start + dt.timedelta(days=1)
        await pg_pool.execute(
            f"CREATE TABLE audit_log_{day:%Y%m%d} PARTITION OF audit_log"
            f" FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
        )
        noon = start + dt.timedelta(hours=12)
        for n in range(3):
            await writer.record([entry(10 * n + i, at=noon) for i in range(4)])
    async with pg_pool.acquire() as conn:
        heads = await chain_heads(conn)
        done = await run_maintenance(conn, retention_days=199, today=today)
    assert done.dropped == [f"audit_log_{old[0]:%Y%m%d}"]
    record = await pg_pool.fetchrow("SELECT day, rows, heads FROM audit_partition_drops")
    assert record is not None and (record["day"], record["rows"]) == (old[0], 12)
    report = await check(pg_pool)
    assert report.intact, report.breaks
    assert report.rows == 12
    assert (await check(pg_pool, old[1])).intact
    async with pg_pool.acquire() as conn:  # the dropped day's heads: from the drop record
        with_heads = await verify_audit(conn, None, heads)
    assert len(heads) == 2 and with_heads.intact, with_heads.breaks


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("VERIFY_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("VERIFY_ADMIN_DATABASE_URL", settings.owner_database_url)
    monkeypatch.setenv("VERIFY_REDIS_URL", settings.redis_url)
    monkeypatch.setenv("VERIFY_HMAC_KEY", b64(settings.hmac_key))
    monkeypatch.setenv("VERIFY_CACHE_KEY", b64(settings.cache_key))


async def test_the_command_line(
    env: None, writer: PgAuditWriter, pg_pool: asyncpg.Pool, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    await write(writer, [entry(n) for n in range(30)])
    assert await asyncio.to_thread(main, ["audit", "verify"]) == 0
    assert "30 rows" in capsys.readouterr().out
    heads = tmp_path / "heads.jsonl"
    assert await asyncio.to_thread(main, ["audit", "heads"]) == 0
    heads.write_text(capsys.readouterr().out)
    assert heads.read_text().count("\n") >= 2
    day = ["--day", NOW.date().isoformat()]
    assert await asyncio.to_thread(main, ["audit", "verify", *day, "--heads", str(heads)]) == 0
    chain, batch = await _batch_of(pg_pool, "req-7")
    await pg_pool.execute("UPDATE audit_log SET kind = 'lookup' WHERE request_id = 'req-7'")
    assert await asyncio.to_thread(main, ["audit", "verify"]) == 1
    assert f"chain {chain} batch {batch}" in capsys.readouterr().err


async def test_rows_the_previous_version_wrote_during_the_rollout_are_chained_once(
    env: None, writer: PgAuditWriter, pg_pool: asyncpg.Pool, capsys: pytest.CaptureFixture[str]
) -> None:
    await write(writer, [entry(n) for n in range(10)])
    cols = "at, agency_id, request_id, kind, purpose, subject"
    await pg_pool.execute(
        f"INSERT INTO audit_log ({cols}) VALUES (now(), 1, 'old-version', 'verify', NULL, '\\x01')"
    )
    assert await asyncio.to_thread(main, ["audit", "verify"]) == 1
    assert "a row in no chain" in capsys.readouterr().err
    assert await asyncio.to_thread(main, ["audit", "chain-unchained"]) == 0
    assert "1 rows without a chain were chained" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["audit", "verify"]) == 0


@pytest.mark.parametrize("copy_rows", [1 << 62, 1], ids=["insert", "copy"])
async def test_a_killed_backend_fails_only_its_groups_and_the_chains_still_verify(
    settings: Settings, pg_pool: asyncpg.Pool, copy_rows: int
) -> None:
    """The writer as the server runs it (one commit in flight, a slot keeping its connection
    while commits follow back to back): its backends are killed mid-stream. Every request
    is answered (committed, or 503 for the groups on the killed connection), the writer
    goes on on fresh connections, and every chain verifies. Commits by INSERT, or by COPY
    (a COPY cut off mid-stream stores none of its rows)."""
    pool = await asyncpg.create_pool(
        settings.database_url, min_size=1, max_size=4,
        server_settings={"application_name": "audit-kill-test"},
    )  # fmt: skip
    assert pool is not None
    writer = PgAuditWriter(pool, timeout=5.0, copy_rows=copy_rows)
    answers: list[str] = []

    async def send(n: int) -> None:
        try:
            await writer.record([entry(n)])
        except DatabaseUnavailable:
            answers.append("unavailable")
        else:
            answers.append("committed")

    try:
        tasks, killed = [], 0
        for n in range(400):
            tasks.append(asyncio.ensure_future(send(n)))
            await asyncio.sleep(0)
            if n in (150, 300):
                killed += await pg_pool.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = 'audit-kill-test'"
                )
        await asyncio.wait_for(asyncio.gather(*tasks), 30)  # every request answered
        assert killed >= 1 and len(answers) == 400 and "committed" in answers
        for n in range(1000, 1005):  # dead pooled connections fail a group each, then fresh
            with contextlib.suppress(DatabaseUnavailable):
                await asyncio.wait_for(writer.record([entry(n)]), 10)
        await asyncio.wait_for(writer.record([entry(2000)]), 10)
        report = await check(pg_pool)
        assert report.intact, report.breaks
        assert report.rows >= answers.count("committed") + 1
    finally:
        await writer.aclose()
        await asyncio.wait_for(pool.close(), 10)
