"""Migration 013: every card of a person on the citizen row, kept right by id_cards' triggers.

Cards are issued, expired, revoked, moved and deleted through SQL as the owner (as another
system of the register would); the serving role's lookup must answer the new cards at once,
each change must bump the version once and log it with NOTIFY (cache invalidation), and a
register that was populated before 013 gets its arrays from the upgrade.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.integration.cache.conftest import add_citizen, new_id
from tests.support.schema import migrated_before
from tests.support.wait import eventually
from verify.adapters.migrate import migrate
from verify.adapters.pg import PgRegister
from verify.domain.model import Card, CardState

D = dt.date
ISSUED = (D(2021, 7, 1), D(2030, 5, 14), "active")
CHANNEL = "citizen_changes"

# rows whose arrays differ from what id_cards says (the old LATERAL of RECORDS_SQL)
MISMATCHES = """
SELECT count(*) FROM citizens c LEFT JOIN LATERAL (
    SELECT array_agg(issue_date ORDER BY issue_date) AS issue,
           array_agg(expiry_date ORDER BY issue_date) AS expiry,
           array_agg(status ORDER BY issue_date) AS status
    FROM id_cards k WHERE k.id_number = c.id_number
) k ON true
WHERE (c.card_issue, c.card_expiry, c.card_status) IS DISTINCT FROM (k.issue, k.expiry, k.status)
"""


class Notes:
    """NOTIFYs of the change log, as the cache's listener receives them."""

    def __init__(self) -> None:
        self.payloads: list[str] = []


@pytest.fixture
async def notes(db_url: str) -> AsyncIterator[Notes]:
    conn = await asyncpg.connect(db_url, timeout=10)
    seen = Notes()
    await conn.add_listener(CHANNEL, lambda *args: seen.payloads.append(str(args[-1])))
    yield seen
    await conn.close(timeout=10)


@pytest.fixture
async def register(serving_url: str) -> AsyncIterator[PgRegister]:
    pool = await asyncpg.create_pool(serving_url, min_size=1, max_size=2, command_timeout=10)
    assert pool is not None
    yield PgRegister([pool], timeout=5.0)
    await asyncio.wait_for(pool.close(), 10)


async def _version(pool: asyncpg.Pool, id12: str) -> int:
    version: int = await pool.fetchval(
        "SELECT version FROM citizens WHERE id_number = $1", int(id12)
    )
    return version


async def _logged(pool: asyncpg.Pool, id12: str) -> list[int | None]:
    rows = await pool.fetch(
        "SELECT version FROM citizen_changes WHERE id_number = $1 ORDER BY seq", int(id12)
    )
    return [r["version"] for r in rows]


async def test_issue_expire_revoke_and_delete_reach_the_lookup_and_the_change_log(
    pg_pool: asyncpg.Pool, register: PgRegister, notes: Notes
) -> None:
    id12 = new_id()
    await add_citizen(pg_pool, id12, cards=(ISSUED,))
    # person and card in one transaction: one version (002's rule, kept by 013)
    assert await _version(pg_pool, id12) == 1
    first = Card(D(2021, 7, 1), D(2030, 5, 14), CardState.ACTIVE)
    assert (await register.fetch_records([id12]))[id12].cards == (first,)

    steps = [
        (  # issue a newer card
            "INSERT INTO id_cards VALUES ($1, '2025-01-02', '2040-05-14', 'active')",
            (first, Card(D(2025, 1, 2), D(2040, 5, 14), CardState.ACTIVE)),
        ),
        (  # the older card expires early
            "UPDATE id_cards SET expiry_date = '2025-01-02'"
            " WHERE id_number = $1 AND issue_date = '2021-07-01'",
            (Card(D(2021, 7, 1), D(2025, 1, 2), CardState.ACTIVE),
             Card(D(2025, 1, 2), D(2040, 5, 14), CardState.ACTIVE)),
        ),
        (  # the current card is revoked, and one that never expires is issued in its place
            "WITH r AS (UPDATE id_cards SET status = 'revoked'"
            "           WHERE id_number = $1 AND issue_date = '2025-01-02')"
            " INSERT INTO id_cards VALUES ($1, '2025-03-04', NULL, 'active')",
            (Card(D(2021, 7, 1), D(2025, 1, 2), CardState.ACTIVE),
             Card(D(2025, 1, 2), D(2040, 5, 14), CardState.REVOKED),
             Card(D(2025, 3, 4), None, CardState.ACTIVE)),
        ),
        (  # the oldest is deleted
            "DELETE FROM id_cards WHERE id_number = $1 AND issue_date = '2021-07-01'",
            (Card(D(2025, 1, 2), D(2040, 5, 14), CardState.REVOKED),
             Card(D(2025, 3, 4), None, CardState.ACTIVE)),
        ),
        ("DELETE FROM id_cards WHERE id_number = $1", ()),  # all of them
    ]  # fmt: skip
    for sql, cards in steps:
        before, heard = await _version(pg_pool, id12), len(notes.payloads)
        await pg_pool.execute(sql, int(id12))
        assert (await register.fetch_records([id12]))[id12].cards == cards, sql
        # one bump per statement, logged with the version after it, and announced
        assert await _version(pg_pool, id12) == before + 1, sql
        assert (await _logged(pg_pool, id12))[-1] == before + 1, sql

        async def announced(heard: int = heard) -> bool:
            return len(notes.payloads) > heard

        await eventually(announced, within=5.0, what="the NOTIFY of a card change")
    assert await pg_pool.fetchval(MISMATCHES) == 0


async def test_an_update_to_the_same_values_writes_and_logs_nothing(
    pg_pool: asyncpg.Pool,
) -> None:
    id12 = new_id()
    await add_citizen(pg_pool, id12)
    logged = await _logged(pg_pool, id12)
    await pg_pool.execute("UPDATE id_cards SET status = status WHERE id_number = $1", int(id12))
    assert await _version(pg_pool, id12) == 1
    assert await _logged(pg_pool, id12) == logged


async def test_moved_cards_bulk_statements_and_truncate_keep_every_person_right(
    pg_pool: asyncpg.Pool, register: PgRegister
) -> None:
    a, b = new_id(), new_id()
    await add_citizen(pg_pool, a, cards=(ISSUED, (D(2016, 3, 1), D(2021, 5, 14), "lost")))
    await add_citizen(pg_pool, b, cards=())
    others = [new_id() for _ in range(50)]
    for id12 in others:
        await add_citizen(pg_pool, id12, cards=())
    # a card recorded on the wrong person is moved: both persons change
    await pg_pool.execute(
        "UPDATE id_cards SET id_number = $2 WHERE id_number = $1 AND issue_date = '2016-03-01'",
        int(a),
        int(b),
    )
    records = await register.fetch_records([a, b])
    assert [c.issue_date for c in records[a].cards] == [D(2021, 7, 1)]
    assert records[b].cards == (Card(D(2016, 3, 1), D(2021, 5, 14), CardState.LOST),)
    # one statement, three cards each for 50 people (a load's INSERT ... SELECT)
    await pg_pool.execute(
        "INSERT INTO id_cards SELECT p, d, d + 3650, 'active'"
        " FROM unnest($1::bigint[]) p, unnest('{2015-01-01,2020-01-01,2025-01-01}'::date[]) d",
        [int(i) for i in others],
    )
    assert await pg_pool.fetchval(MISMATCHES) == 0
    assert {len(r.cards) for r in (await register.fetch_records(others)).values()} == {3}
    await pg_pool.execute("TRUNCATE id_cards")
    assert await pg_pool.fetchval(MISMATCHES) == 0
    assert all(r.cards == () for r in (await register.fetch_records([a, b, *others])).values())


async def test_the_upgrade_fills_a_populated_register_without_changing_any_record(
    blank_url: str,
) -> None:
    conn = await asyncpg.connect(blank_url, timeout=10)
    try:
        await migrated_before(conn, 13)  # the register before 013 (013 and 014: the change)
        await conn.execute(
            "INSERT INTO citizens (id_number, full_name, birth_date, gender, province_code)"
            " SELECT 1000 + i, 'Người ' || i, '1990-01-01', 'F', 1 FROM generate_series(1, 300) i"
        )
        await conn.execute(  # 0 to 3 cards each, one of them never expiring
            "INSERT INTO id_cards SELECT 1000 + i, d, CASE WHEN j = 2 THEN NULL ELSE d + 3650 END,"
            " CASE WHEN j = 1 THEN 'lost' ELSE 'active' END"
            " FROM generate_series(1, 300) i, generate_series(1, 3) j,"
            " LATERAL (SELECT '2010-01-01'::date + 1000 * j AS d) x WHERE j <= i % 4"
        )
        versions = await conn.fetch("SELECT id_number, version FROM citizens ORDER BY 1")
        changes = await conn.fetchval("SELECT max(seq) FROM citizen_changes")
        applied = await migrate(conn)
        assert applied[:2] == ["013_citizen_cards.sql", "014_citizen_cards_fill.sql"]
        assert await conn.fetchval(MISMATCHES) == 0
        assert await conn.fetchval("SELECT count(card_issue) FROM citizens") == 225
        # the records did not change: no version bump, nothing logged for the caches
        assert await conn.fetch("SELECT id_number, version FROM citizens ORDER BY 1") == versions
        assert await conn.fetchval("SELECT max(seq) FROM citizen_changes") == changes
        # and the triggers it switched off for the backfill are on again
        version = await conn.fetchval("SELECT version FROM citizens WHERE id_number = 1001")
        await conn.execute("UPDATE id_cards SET status = 'revoked' WHERE id_number = 1001")
        assert await conn.fetchval("SELECT card_status FROM citizens WHERE id_number = 1001") == [
            "revoked"
        ]
        assert (
            await conn.fetchval("SELECT version FROM citizens WHERE id_number = 1001")
            == version + 1
        )
        assert await conn.fetchval("SELECT max(seq) FROM citizen_changes") > changes
    finally:
        await conn.close(timeout=10)


@pytest.mark.parametrize(
    "second",
    [
        "UPDATE id_cards SET status = 'lost' WHERE id_number = $1 AND issue_date = '2021-07-01'",
        "INSERT INTO id_cards VALUES ($1, '2024-02-03', '2039-05-14', 'active')",
    ],
)
async def test_concurrent_card_changes_of_one_person_are_both_on_the_row(
    db_url: str, pg_pool: asyncpg.Pool, second: str
) -> None:
    """Two transactions change one person's cards at once: the second waits for the first's
    row, and must then write the cards both made, not those of its first snapshot."""
    id12 = new_id()
    await add_citizen(pg_pool, id12, cards=(ISSUED,))
    first_conn = await asyncpg.connect(db_url, timeout=10)
    second_conn = await asyncpg.connect(db_url, timeout=10)
    try:
        first = first_conn.transaction()
        await first.start()
        await first_conn.execute(
            "INSERT INTO id_cards VALUES ($1, '2025-01-02', '2040-05-14', 'active')", int(id12)
        )
        waiting = asyncio.create_task(second_conn.execute(second, int(id12)))
        pid = second_conn.get_server_pid()

        async def blocked() -> bool:  # on a lock the first transaction holds
            return bool(await pg_pool.fetchval(
                "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid
            ))  # fmt: skip

        await eventually(blocked, within=10, what="the second change waiting for the first")
        assert not waiting.done()
        await first.commit()
        await asyncio.wait_for(waiting, 10)
    finally:
        await first_conn.close(timeout=10)
        await second_conn.close(timeout=10)
    assert await pg_pool.fetchval(MISMATCHES) == 0
