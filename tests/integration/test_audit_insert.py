"""The writer's INSERT and COPY against Postgres: what is stored is what was recorded and
hashed, in the order it was hashed, for one row or a thousand, whatever the text holds."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import struct
from collections.abc import AsyncIterator

import asyncpg
import pytest

from verify.adapters.audit import PgAuditWriter
from verify.adapters.audit_chain import CANON_COLUMNS, canonical
from verify.adapters.audit_verify import verify_audit
from verify.errors import DatabaseUnavailable
from verify.service.audit import AuditEntry
from verify.settings import Settings

NOW = dt.datetime.now(dt.UTC).replace(hour=12)  # far from midnight: one batch per commit
_F32 = struct.Struct(">f")
AWKWARD = [
    'a "quoted" name', "back\\slash", "{braces}", "comma,separated", "NULL", "", " padded ",
    "Nguyễn Văn An", "tab\tand\nnewline", "emoji 🇻🇳", "\u0001\u007f", "[1, 2]", "'single'",
]  # fmt: skip


def _single(value: float) -> float:
    single: float = _F32.unpack(_F32.pack(value))[0]
    return single


@pytest.fixture(params=["insert", "copy"])
async def writer(
    settings: Settings, request: pytest.FixtureRequest
) -> AsyncIterator[PgAuditWriter]:
    """The serving role's pool, as the server runs it; every commit by the INSERT of
    canonical rows, or every commit by COPY (``copy_rows``)."""
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=4)
    assert pool is not None
    yield PgAuditWriter(pool, timeout=5.0, copy_rows=1 << 62 if request.param == "insert" else 1)
    await asyncio.wait_for(pool.close(), 10)


def _entry(n: int, **changes: object) -> AuditEntry:
    values: dict[str, object] = {
        "at": NOW + dt.timedelta(microseconds=7 * n),
        "agency_id": n % 5,
        "request_id": f"req-{n:05d}",
        "kind": "batch_item",
        "purpose": "kyc",
        "subject": n.to_bytes(32, "big"),
        "verdict": "match",
        "latency_ms": 0.1 + n / 3,
        "key_id": "0123456789abcdef",
    }
    values.update(changes)
    return AuditEntry(**values)  # type: ignore[arg-type]


async def _stored(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM audit_log ORDER BY seq")


def _as_recorded(row: asyncpg.Record) -> AuditEntry:
    fields = None if row["fields"] is None else tuple(row["fields"])
    return AuditEntry(
        row["at"], row["agency_id"], row["request_id"], row["kind"], row["purpose"],
        bytes(row["subject"]), row["verdict"], fields,
        row["latency_ms"], row["key_id"], row["terminal"],
    )  # fmt: skip


def _same(stored: AuditEntry, recorded: AuditEntry) -> bool:
    """Equal, the latency as the `real` the column holds (NaN equal to NaN)."""
    if recorded.latency_ms is None or stored.latency_ms is None:
        return stored == recorded
    single = _single(recorded.latency_ms)
    latency_ok = (math.isnan(single) and math.isnan(stored.latency_ms)) or (
        stored.latency_ms == single
    )
    return latency_ok and stored._replace(latency_ms=0.0) == recorded._replace(latency_ms=0.0)


async def _intact(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        report = await verify_audit(conn)
    assert report.intact, report.breaks


async def test_a_thousand_rows_in_one_commit_keep_their_order(
    writer: PgAuditWriter, pg_pool: asyncpg.Pool
) -> None:
    recorded = [_entry(n) for n in range(1200)]
    await writer.record(recorded)
    rows = await _stored(pg_pool)
    assert [r["request_id"] for r in rows] == [e.request_id for e in recorded]  # seq order
    assert all(_same(_as_recorded(r), e) for r, e in zip(rows, recorded, strict=True))
    assert {r["chain_batch"] for r in rows} == {1}
    assert [i for i, r in enumerate(rows) if r["chain_link"] is not None] == [len(rows) - 1]
    await _intact(pg_pool)


async def test_awkward_values_are_stored_as_recorded(
    writer: PgAuditWriter, pg_pool: asyncpg.Pool
) -> None:
    hanoi = dt.timezone(dt.timedelta(hours=7))
    recorded = [
        _entry(0, fields=tuple(AWKWARD), purpose=AWKWARD[0], terminal=AWKWARD[7]),
        _entry(1, fields=(), verdict=None, key_id=None, subject=b""),
        _entry(2, request_id=AWKWARD[8], kind=AWKWARD[9], purpose=None, latency_ms=None),
        _entry(3, latency_ms=math.nan, terminal=AWKWARD[4]),
        _entry(4, latency_ms=math.inf, fields=(AWKWARD[5],)),
        _entry(5, latency_ms=-math.inf, key_id=AWKWARD[1]),
        _entry(6, at=(NOW + dt.timedelta(seconds=1)).astimezone(hanoi), latency_ms=1e-45),
        _entry(7, latency_ms=0.1, agency_id=-(2**31)),
    ]
    await writer.record(recorded)
    rows = await _stored(pg_pool)
    assert len(rows) == len(recorded)
    for row, e in zip(rows, recorded, strict=True):
        assert _same(_as_recorded(row), e), (row, e)
    cols = ", ".join(CANON_COLUMNS)
    sql = f"SELECT audit_canonical(l) AS sql, {cols} FROM audit_log l ORDER BY seq"
    for r in await pg_pool.fetch(sql):
        assert bytes(r["sql"]) == canonical(tuple(r[c] for c in CANON_COLUMNS))
    await _intact(pg_pool)


async def test_a_refused_insert_fails_its_group_and_the_chain_goes_on(
    writer: PgAuditWriter, pg_pool: asyncpg.Pool
) -> None:
    """Postgres refuses a NUL in text: the group's requests fail (503), nothing of it is
    stored, and the next commits chain on as if it had never been."""
    await writer.record([_entry(n) for n in range(3)])
    with pytest.raises(DatabaseUnavailable):
        await writer.record([_entry(10), _entry(11, purpose="nul \x00 inside")])
    await writer.record([_entry(n) for n in range(20, 23)])
    rows = await _stored(pg_pool)
    assert [r["request_id"] for r in rows] == [f"req-{n:05d}" for n in (0, 1, 2, 20, 21, 22)]
    await _intact(pg_pool)


def _from_bits(bits: int) -> float:
    single: float = _F32.unpack(struct.pack(">i", bits))[0]
    return single


async def test_every_exponent_of_a_real_and_times_around_the_epoch_are_stored_exactly(
    writer: PgAuditWriter, pg_pool: asyncpg.Pool
) -> None:
    """The INSERT rebuilds `at` from microseconds and the latency from its bit pattern: every
    exponent (subnormals, the largest finite, infinities, NaN), both signs, edge mantissas,
    and times before 1970, far ahead and at odd microseconds come back as recorded."""
    patterns = [
        sign | exponent << 23 | mantissa
        for sign in (0, 1 << 31)
        for exponent in range(256)
        for mantissa in (0, 1, 0x2AAAAA, 0x7FFFFF)
    ]
    recorded = [
        _entry(i, latency_ms=_from_bits(p - (1 << 32) if p >= 1 << 31 else p))
        for i, p in enumerate(patterns)
    ]
    times = [
        dt.datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC),
        dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
        dt.datetime(1900, 3, 1, 0, 0, 0, 1, tzinfo=dt.UTC),
        dt.datetime(2286, 11, 20, 17, 46, 39, 999_999, tzinfo=dt.UTC),  # past 2^53 us
        dt.datetime(9999, 12, 30, 23, 59, 59, 999_999, tzinfo=dt.UTC),
        dt.datetime(1, 1, 3, 0, 0, 0, 1, tzinfo=dt.UTC),
        NOW.replace(microsecond=123_457),
    ]
    recorded += [_entry(len(recorded) + i, at=at) for i, at in enumerate(times)]
    for start in range(0, len(recorded), 700):  # one batch per commit and UTC day
        await writer.record(recorded[start : start + 700])
    rows = await _stored(pg_pool)
    assert len(rows) == len(recorded)
    by_request = {r["request_id"]: _as_recorded(r) for r in rows}
    for e in recorded:
        stored = by_request[e.request_id]
        assert _same(stored, e), (stored, e)
        if e.latency_ms == 0.0 and stored.latency_ms is not None:  # the sign kept too
            assert math.copysign(1, stored.latency_ms) == math.copysign(1, e.latency_ms)
    await _intact(pg_pool)
