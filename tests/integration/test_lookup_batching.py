"""Register lookups in flight during one event-loop tick go to Postgres as one query."""

from __future__ import annotations

import asyncio
import datetime as dt

import asyncpg
import pytest

from cache.direct import DirectRegister
from verify.adapters.pg import PgRegister
from verify.domain.id_number import make_id12
from verify.domain.model import CardState, CitizenRecord, Claim, Gender, LifeStatus
from verify.errors import DatabaseUnavailable
from verify.service.verification import verify_claims


class CountingRegister(PgRegister):
    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__([pool], timeout=5)
        self.record_calls: list[list[str]] = []

    async def fetch_records(self, ids: list[str]) -> dict[str, CitizenRecord]:
        self.record_calls.append(ids)
        return await super().fetch_records(ids)


IDS = [make_id12("001", Gender.MALE, 1990, n) for n in range(50)]


async def _insert(pool: asyncpg.Pool) -> None:
    rows = [(int(i), f"Nguyễn Văn {n}", dt.date(1990, 1, 2), b"M", 1) for n, i in enumerate(IDS)]
    await pool.executemany(
        "INSERT INTO citizens (id_number, full_name, birth_date, gender, province_code)"
        " VALUES ($1, $2, $3, $4, $5)",
        rows,
    )
    await pool.execute(
        "INSERT INTO id_cards VALUES ($1, '2020-01-01', NULL, 'active'),"
        " ($1, '2015-01-01', '2020-01-01', 'lost')",
        int(IDS[0]),
    )
    await pool.execute("INSERT INTO former_ids VALUES (12345678, $1)", int(IDS[1]))


async def test_concurrent_gets_share_one_query(pg_pool: asyncpg.Pool) -> None:
    await _insert(pg_pool)
    register = CountingRegister(pg_pool)
    lookup = DirectRegister(register, max_batch=1000)
    wanted = [*IDS, *IDS[:10], make_id12("001", Gender.MALE, 1990, 999_999)]
    results = await asyncio.gather(*(lookup.get_many([i]) for i in wanted))
    assert len(register.record_calls) == 1
    assert sorted(register.record_calls[0]) == sorted(set(wanted))  # deduplicated
    assert all(results[n] for n in range(len(IDS)))
    assert results[-1] == {}


async def test_batch_is_capped(pg_pool: asyncpg.Pool) -> None:
    await _insert(pg_pool)
    register = CountingRegister(pg_pool)
    lookup = DirectRegister(register, max_batch=20)
    found = await lookup.get_many(IDS)
    assert len(found) == 50
    assert [len(c) for c in register.record_calls] == [20, 20, 10]


async def test_record_decoding(pg_pool: asyncpg.Pool) -> None:
    await _insert(pg_pool)
    lookup = DirectRegister(PgRegister([pg_pool], timeout=5))
    record = (await lookup.get_many([IDS[0]]))[IDS[0]]
    assert record.id_number == IDS[0]
    assert record.gender is Gender.MALE and record.status is LifeStatus.LIVING
    assert [c.state for c in record.cards] == [CardState.LOST, CardState.ACTIVE]
    assert record.cards[-1].expiry_date is None
    assert await lookup.resolve_former(["012345678", "000000001"]) == {"012345678": IDS[1]}


async def test_one_batch_of_claims_is_one_query(pg_pool: asyncpg.Pool) -> None:
    await _insert(pg_pool)
    register = CountingRegister(pg_pool)
    lookup = DirectRegister(register, max_batch=1000)
    claims = [Claim(id_number=IDS[n % 50]) for n in range(1000)] + [Claim(id_number="012345678")]
    outcomes = await verify_claims(claims, register=lookup, today=dt.date(2026, 11, 28))
    assert len(register.record_calls) == 1
    assert outcomes[-1][0].verdict.value == "match"


async def test_database_down_is_database_unavailable(pg_pool: asyncpg.Pool) -> None:
    register = PgRegister([pg_pool], timeout=5)
    await pg_pool.close()
    with pytest.raises(DatabaseUnavailable):
        await register.fetch_records([IDS[0]])


async def test_one_caller_giving_up_does_not_cancel_the_others() -> None:
    from cache.coalesce import TickBatcher

    release = asyncio.Event()

    async def slow_fetch(keys: list[str]) -> dict[str, str]:
        await release.wait()
        return {k: k.upper() for k in keys}

    batcher: TickBatcher[str, str] = TickBatcher(slow_fetch)
    impatient = asyncio.create_task(batcher.get_many(["a"]))
    patient = asyncio.create_task(batcher.get_many(["a"]))
    single = asyncio.create_task(batcher.get("a"))
    await asyncio.sleep(0)  # let the three join the same fetch
    impatient.cancel()
    release.set()
    assert await patient == {"a": "A"}
    assert await single == "A"
    assert impatient.cancelled()
    assert await batcher.get_many(["a"]) == {"a": "A"}
