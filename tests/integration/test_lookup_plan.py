"""Migration 025: the uncached lookup is one index-only scan, and answers as the heap does.

The register's lookup (RECORDS_SQL, as the serving role prepares it) must read every column
from citizens_lookup_cover once the pages are all-visible: no heap fetch, no second plan
node. A row changed after the VACUUM (a card issued: 013's triggers rewrite the citizen
row) is answered from the heap until the next VACUUM: the record is the new one either way.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from tests.integration.cache.conftest import add_citizen, new_id
from verify.adapters.pg import RECORDS_SQL, Conn, PgRegister
from verify.domain.model import Card, CardState

D = dt.date
BULK_FIRST = 1_195_000_000  # 001195000000...: Hà Nội, female, born 1995 (new_id makes 1990s)
BULK = 20_000  # enough rows that a scan of the table costs more than the index


async def _bulk(conn: Conn) -> None:
    """BULK people without cards in one statement (the planner needs a table of some size),
    stored in no order of their IDs, as a register is (a table in ID order would make a
    heap visit look sequential, and so cheap, to the planner)."""
    await conn.execute(
        "INSERT INTO citizens (id_number, full_name, birth_date, gender, province_code, address)"
        " SELECT $1::bigint + n, 'Trần Thị Bích', DATE '1995-02-03', 'F', 1, 'x'"
        " FROM generate_series(0, $2::int - 1) AS n ORDER BY md5(n::text)",
        BULK_FIRST,
        BULK,
    )


@pytest.fixture
async def register(serving_url: str) -> AsyncIterator[PgRegister]:
    pool = await asyncpg.create_pool(serving_url, min_size=1, max_size=2, command_timeout=10)
    assert pool is not None
    yield PgRegister([pool], timeout=5.0)
    await pool.close()


# INDEX_CLEANUP ON: with dead tuples on under 2 % of its pages (the card triggers' rewrites
# of add_citizen's rows), VACUUM leaves their line pointers and those pages not all-visible
async def _plan(conn: Conn, ids: list[int]) -> dict[str, Any]:
    """The executed plan of RECORDS_SQL for ``ids``, generic (as a prepared statement runs
    after its fifth execution), with its buffer counts."""
    await conn.execute("SET plan_cache_mode = force_generic_plan")
    raw = await conn.fetchval("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + RECORDS_SQL, ids)
    plan: dict[str, Any] = json.loads(raw)[0]["Plan"]
    return plan


async def test_the_lookup_is_one_index_only_scan_and_reads_no_heap(
    pg_pool: asyncpg.Pool, register: PgRegister
) -> None:
    ids = [new_id() for _ in range(30)]
    for id12 in ids:
        await add_citizen(pg_pool, id12)
    async with pg_pool.acquire() as conn:
        await _bulk(conn)
        await conn.execute("VACUUM (ANALYZE, INDEX_CLEANUP ON) citizens")
        plan = await _plan(conn, [int(i) for i in ids])
    assert plan["Node Type"] == "Index Only Scan"
    assert plan["Index Name"] == "citizens_lookup_cover"
    assert "Plans" not in plan  # one node: no bitmap, no heap scan, no sort
    assert plan["Heap Fetches"] == 0
    assert plan["Actual Rows"] == len(ids)
    records = await register.fetch_records(ids)
    assert sorted(records) == sorted(ids)
    assert records[ids[0]].cards == (Card(D(2021, 7, 1), D(2030, 5, 14), CardState.ACTIVE),)


async def test_a_row_changed_since_the_vacuum_is_read_as_it_is_now(
    pg_pool: asyncpg.Pool, register: PgRegister
) -> None:
    ids = [new_id() for _ in range(20)]
    for id12 in ids:
        await add_citizen(pg_pool, id12)
    async with pg_pool.acquire() as conn:
        await _bulk(conn)
        await conn.execute("VACUUM (ANALYZE, INDEX_CLEANUP ON) citizens")
        await conn.execute(
            "INSERT INTO id_cards (id_number, issue_date, expiry_date, status)"
            " VALUES ($1, $2, NULL, 'active')",
            int(ids[7]),
            D(2025, 3, 2),
        )
        plan = await _plan(conn, [int(i) for i in ids])
    assert plan["Node Type"] == "Index Only Scan"
    assert plan["Heap Fetches"] >= 1  # the changed row's page is no longer all-visible
    record = (await register.fetch_records([ids[7]]))[ids[7]]
    assert record.cards[-1] == Card(D(2025, 3, 2), None, CardState.ACTIVE)
    assert record.version == 2
