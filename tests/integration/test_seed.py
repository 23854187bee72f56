"""`verify seed` against a real PostgreSQL: determinism inline or in parallel, ID structure,
card rules, shares, the keys and triggers a parallel seed puts back, a killed seed resumed."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.integration.test_citizen_cards import MISMATCHES as CARD_ARRAYS_WRONG
from tests.support.wait import eventually
from verify.adapters.seed import SeedError, register_is_empty, seed_register, unfinished_seed
from verify.adapters.seed_gen import CHUNK_SIZE, Population, chunk_sizes
from verify.domain.cards import card_expiry
from verify.domain.id_number import structure
from verify.domain.model import Gender
from verify.domain.provinces import PROVINCES

TODAY = dt.date(2025, 6, 1)
COUNT = 2_000

_CITIZENS = """SELECT id_number, full_name, birth_date, birth_year_only, gender, deceased,
                      province_code, address, version FROM citizens ORDER BY id_number"""
_CARDS = "SELECT * FROM id_cards ORDER BY id_number, issue_date"
_FORMER = "SELECT * FROM former_ids ORDER BY former_id"


@pytest.fixture
async def conn(db_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(db_url, timeout=10)
    yield connection
    await connection.close()


@pytest.fixture
async def seeded(conn: asyncpg.Connection) -> asyncpg.Connection:
    report = await seed_register(conn, count=COUNT, seed=7, today=TODAY, progress=False)
    assert report.citizens == COUNT
    assert report.cards > COUNT * 0.8
    assert report.former_ids > 0
    assert report.triggers_bypassed  # the test server's user is a superuser
    return conn


async def _snapshot(conn: asyncpg.Connection) -> list[list[tuple[object, ...]]]:
    return [[tuple(r) for r in await conn.fetch(q)] for q in (_CITIZENS, _CARDS, _FORMER)]


async def test_same_seed_same_rows_inline_or_in_parallel(
    seeded: asyncpg.Connection, db_url: str
) -> None:
    first = await _snapshot(seeded)
    await seeded.execute("TRUNCATE citizens, id_cards, former_ids")
    report = await seed_register(
        seeded, count=COUNT, seed=7, today=TODAY, progress=False, parallel=True, dsn=db_url,
        jobs=2,
    )  # fmt: skip
    assert (report.citizens, report.triggers_bypassed, report.resumed) == (COUNT, True, False)
    assert await _snapshot(seeded) == first
    await seeded.execute("TRUNCATE citizens, id_cards, former_ids")
    await seed_register(seeded, count=COUNT, seed=8, today=TODAY, progress=False)
    assert await _snapshot(seeded) != first


_SCHEMA = """
SELECT conrelid::regclass::text, conname, contype::text,
       replace(pg_get_constraintdef(oid), ' NOT VALID', '')
FROM pg_constraint WHERE conrelid IN ('citizens'::regclass, 'id_cards'::regclass,
                                      'former_ids'::regclass)
UNION ALL
SELECT tablename::text, indexname::text, 'index', indexdef FROM pg_indexes
WHERE tablename IN ('citizens', 'id_cards', 'former_ids')
UNION ALL
SELECT relname::text, 'reloptions', coalesce(array_to_string(reloptions, ','), ''), ''
FROM pg_class WHERE relname IN ('citizens', 'id_cards', 'former_ids')
UNION ALL
SELECT tgrelid::regclass::text, tgname::text, tgenabled::text, '' FROM pg_trigger
WHERE tgrelid IN ('citizens'::regclass, 'id_cards'::regclass, 'former_ids'::regclass)
  AND NOT tgisinternal
ORDER BY 1, 2, 3"""


async def test_a_parallel_seed_puts_back_every_key_index_and_trigger(
    conn: asyncpg.Connection, db_url: str
) -> None:
    before = [tuple(r) for r in await conn.fetch(_SCHEMA)]
    await seed_register(
        conn, count=COUNT, seed=7, today=TODAY, progress=False, parallel=True, dsn=db_url
    )
    assert [tuple(r) for r in await conn.fetch(_SCHEMA)] == before  # triggers enabled: 'O'
    # migration 013: the cards are on every citizen row, written by the COPY itself
    assert await conn.fetchval(CARD_ARRAYS_WRONG) == 0
    # the foreign keys come back NOT VALID (enforced for new rows); the rows pass them
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND NOT convalidated"
        )
        == 2
    )
    await conn.execute("ALTER TABLE id_cards VALIDATE CONSTRAINT id_cards_id_number_fkey")
    await conn.execute("ALTER TABLE former_ids VALIDATE CONSTRAINT former_ids_id_number_fkey")
    assert await conn.fetchval("SELECT state FROM seed_runs") == "done"
    assert await unfinished_seed(conn) is None
    with pytest.raises(asyncpg.UniqueViolationError):  # the primary key is back
        await conn.execute("INSERT INTO citizens SELECT * FROM citizens LIMIT 1")


_SEED_CHILD = """
import asyncio, datetime, sys
import asyncpg
from tests.integration.test_citizen_cards import MISMATCHES as CARD_ARRAYS_WRONG
from verify.adapters.seed import seed_register

async def main():
    conn = await asyncpg.connect(sys.argv[1])
    await seed_register(conn, count=int(sys.argv[2]), seed=5, today=datetime.date(2025, 6, 1),
                        progress=False, parallel=True, dsn=sys.argv[1], jobs=1)

asyncio.run(main())
"""


async def test_a_killed_parallel_seed_resumes_with_the_same_rows(
    conn: asyncpg.Connection, db_url: str
) -> None:
    count = 2 * CHUNK_SIZE + 500  # three chunks, loaded one after another by one worker
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _SEED_CHILD, db_url, str(count), start_new_session=True
    )
    try:

        async def first_chunk_in() -> bool:
            return bool(await conn.fetchval(
                "SELECT to_regclass('seed_chunks') IS NOT NULL"
                " AND EXISTS (SELECT 1 FROM seed_chunks)"
            ))  # fmt: skip

        await eventually(first_chunk_in, within=120, what="a committed chunk")
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # the seed and its worker, mid-load
        await asyncio.wait_for(child.wait(), timeout=30)
    chunks = await conn.fetchval("SELECT count(*) FROM seed_chunks")
    assert 1 <= chunks < 3
    assert await conn.fetchval("SELECT count(*) FROM citizens") == await conn.fetchval(
        "SELECT sum(citizens) FROM seed_chunks"
    )  # every committed chunk whole, nothing of the others
    assert await unfinished_seed(conn) == f"verify seed --count {count} --seed 5"
    with pytest.raises(SeedError, match="unfinished seed"):
        await seed_register(conn, count=count, seed=6, today=TODAY, dsn=db_url, parallel=True)
    with pytest.raises(SeedError, match="not empty"):
        await seed_register(conn, count=10, seed=5, today=TODAY, progress=False)

    later = TODAY + dt.timedelta(days=400)  # resumed another day: the run's own day is kept
    report = await seed_register(
        conn, count=count, seed=5, today=later, progress=False, parallel=True, dsn=db_url
    )
    assert report.resumed and report.citizens == count
    population = Population(5, dt.date(2025, 6, 1))
    chunks_made = [population.chunk(k, n) for k, n in enumerate(chunk_sizes(count))]
    expected = (
        sum(int(c.people.id_number.sum()) for c in chunks_made),
        sum(c.counts[1] for c in chunks_made),
        sum(c.counts[2] for c in chunks_made),
    )
    got = await conn.fetchrow(
        "SELECT (SELECT sum(id_number) FROM citizens) AS ids,"
        " (SELECT count(*) FROM id_cards) AS cards, (SELECT count(*) FROM former_ids) AS former"
    )
    assert got is not None and (got["ids"], got["cards"], got["former"]) == expected
    assert await conn.fetchval("SELECT count(DISTINCT id_number) FROM citizens") == count


async def test_id_numbers_agree_with_birth_data_and_are_unique(seeded: asyncpg.Connection) -> None:
    rows = await seeded.fetch("SELECT id_number, birth_date, gender FROM citizens")
    assert len({r["id_number"] for r in rows}) == COUNT
    for row in rows:
        decoded = structure(f"{row['id_number']:012d}")
        assert decoded.place_code in PROVINCES
        assert decoded.birth_year == row["birth_date"].year
        assert decoded.gender is (
            Gender.FEMALE if row["gender"] == b"F" else Gender.MALE
        )  # "char": bytes
    former = await seeded.fetch("SELECT former_id FROM former_ids")
    assert all(0 <= r["former_id"] <= 999_999_999 for r in former)


async def test_cards_follow_the_renewal_rules(seeded: asyncpg.Connection) -> None:
    cards = await seeded.fetch(
        "SELECT k.*, c.birth_date FROM id_cards k JOIN citizens c USING (id_number)"
    )
    orphans = await seeded.fetchval(
        "SELECT count(*) FROM id_cards k WHERE NOT EXISTS "
        "(SELECT 1 FROM citizens c WHERE c.id_number = k.id_number)"
    )
    assert orphans == 0
    for card in cards:
        assert card["birth_date"] <= card["issue_date"] <= TODAY
        assert card["expiry_date"] == card_expiry(card["birth_date"], card["issue_date"])
    adults_without = await seeded.fetchval(
        "SELECT count(*) FROM citizens c WHERE birth_date <= $1 AND NOT EXISTS "
        "(SELECT 1 FROM id_cards k WHERE k.id_number = c.id_number)",
        TODAY.replace(year=TODAY.year - 15),
    )
    assert adults_without == 0
    several = await seeded.fetchval(
        "SELECT count(*) FROM (SELECT id_number FROM id_cards GROUP BY 1 HAVING count(*) > 1) s"
    )
    assert several > COUNT * 0.1


async def test_shares_are_roughly_real(seeded: asyncpg.Connection) -> None:
    share = await seeded.fetchrow(
        """SELECT avg((full_name LIKE 'Nguyễn %')::int) AS nguyen,
                  avg(deceased::int) AS deceased,
                  avg(birth_year_only::int) AS year_only,
                  avg((full_name LIKE '% Thị %')::int) FILTER (WHERE gender = 'F') AS thi,
                  avg((province_code IN (1, 79))::int) AS big_cities
           FROM citizens"""
    )
    assert share is not None
    assert 0.33 < share["nguyen"] < 0.43
    assert 0 < share["deceased"] < 0.02
    assert 0 < share["year_only"] < 0.04
    assert 0.3 < share["thi"] < 0.6
    assert 0.12 < share["big_cities"] < 0.35
    current = await seeded.fetchval(
        """SELECT avg((status <> 'active')::int) FROM id_cards k
           WHERE issue_date = (SELECT max(issue_date) FROM id_cards j
                               WHERE j.id_number = k.id_number)"""
    )
    assert 0.001 < current < 0.04
    formers = await seeded.fetchval("SELECT count(*) FROM former_ids")
    adults_before_2000 = await seeded.fetchval(
        "SELECT count(*) FROM citizens WHERE birth_date < '2000-01-01'"
    )
    assert 0.3 < formers / adults_before_2000 < 0.5


async def test_every_person_has_their_cards_on_the_row(seeded: asyncpg.Connection) -> None:
    """Migration 013's arrays, from the inline seed's COPY (the triggers were bypassed)."""
    assert await seeded.fetchval(CARD_ARRAYS_WRONG) == 0
    counts = await seeded.fetchrow(
        "SELECT count(card_issue) AS people, sum(cardinality(card_issue)) AS cards,"
        " count(*) FILTER (WHERE array_position(card_expiry, NULL) IS NOT NULL) AS never"
        " FROM citizens"
    )
    assert counts is not None
    assert counts["cards"] == await seeded.fetchval("SELECT count(*) FROM id_cards")
    assert counts["people"] > COUNT * 0.7 and counts["never"] > 0


async def test_refuses_a_register_that_is_not_empty(seeded: asyncpg.Connection) -> None:
    assert not await register_is_empty(seeded)
    with pytest.raises(SeedError, match="not empty"):
        await seed_register(seeded, count=10, seed=1, today=TODAY, progress=False)
    assert await seeded.fetchval("SELECT count(*) FROM citizens") == COUNT


async def test_without_superuser_the_triggers_run_and_versions_stay_1(
    conn: asyncpg.Connection,
) -> None:
    assert await register_is_empty(conn)
    role = f"seeder_{uuid.uuid4().hex[:12]}"
    await conn.execute(f"CREATE ROLE {role} NOLOGIN")
    try:
        await conn.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
        await conn.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
        await conn.execute(f"SET ROLE {role}")
        report = await seed_register(conn, count=300, seed=3, today=TODAY, progress=False)
        await conn.execute("RESET ROLE")
        assert not report.triggers_bypassed
        # 002: cards inserted with their person in one transaction bump no version
        assert await conn.fetchval("SELECT max(version) FROM citizens") == 1
        assert await conn.fetchval(CARD_ARRAYS_WRONG) == 0
    finally:
        await conn.execute("RESET ROLE")
        await conn.execute(f"DROP OWNED BY {role}")
        await conn.execute(f"DROP ROLE {role}")
