"""Invariant 2: a change in Postgres stops being answered from the caches within 1 s."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

from cache.codec import RECORD, pack_record
from cache.keyspace import RECORD_TTL_S
from cache.listener import ChangeListener
from cache.register import CachedRegister
from tests.integration.cache.conftest import CountingSource, LookupFactory, add_citizen, new_id
from tests.support.wait import eventually
from verify.adapters.changes import PgChangeSource
from verify.domain.model import CardState
from verify.settings import Settings

WITHIN_S = 1.0


async def listening(lookup: CachedRegister, settings: Settings) -> ChangeListener:
    changes = PgChangeSource(settings.database_url, timeout_s=2.0, connect_timeout_s=5.0)
    listener = ChangeListener(changes, lookup.invalidator)
    await lookup.listen(listener, wait_s=5.0)
    assert lookup.cache_trusted() and lookup.redis_trusted()
    return listener


async def name_of(lookup: CachedRegister, id12: str) -> str:
    return (await lookup.get_many([id12]))[id12].full_name


async def test_a_name_change_reaches_every_instance_within_1s(
    pg_pool: asyncpg.Pool, source: CountingSource, make_lookup: LookupFactory, settings: Settings
) -> None:
    id12 = new_id()
    await add_citizen(pg_pool, id12, name="Hồ Văn Cũ")
    a, b = await make_lookup(source), await make_lookup(source)
    await listening(a, settings)
    await listening(b, settings)
    assert await name_of(a, id12) == await name_of(b, id12) == "Hồ Văn Cũ"
    await pg_pool.execute(
        "UPDATE citizens SET full_name = 'Hồ Văn Mới' WHERE id_number = $1", int(id12)
    )

    async def both_new() -> bool:
        return await name_of(a, id12) == await name_of(b, id12) == "Hồ Văn Mới"

    await eventually(both_new, within=WITHIN_S, what="the new name")


async def test_a_revoked_card_is_seen_within_1s(
    pg_pool: asyncpg.Pool, source: CountingSource, make_lookup: LookupFactory, settings: Settings
) -> None:
    id12 = new_id()
    await add_citizen(pg_pool, id12)
    lookup = await make_lookup(source)
    await listening(lookup, settings)
    assert (await lookup.get_many([id12]))[id12].cards[-1].state is CardState.ACTIVE
    await pg_pool.execute("UPDATE id_cards SET status = 'revoked' WHERE id_number = $1", int(id12))

    async def revoked() -> bool:
        return (await lookup.get_many([id12]))[id12].cards[-1].state is CardState.REVOKED

    await eventually(revoked, within=WITHIN_S, what="the revocation")


async def test_changes_made_while_the_listen_connection_is_down_are_replayed(
    pg_pool: asyncpg.Pool, source: CountingSource, make_lookup: LookupFactory, settings: Settings
) -> None:
    id12 = new_id()
    await add_citizen(pg_pool, id12, name="Ngô Thị Cũ")
    lookup = await make_lookup(source)
    listener = await listening(lookup, settings)
    assert await name_of(lookup, id12) == "Ngô Thị Cũ"
    pid = listener.backend_pid
    assert pid is not None
    async with pg_pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_terminate_backend($1)", pid)
        await conn.execute(
            "UPDATE citizens SET full_name = 'Ngô Thị Mới' WHERE id_number = $1", int(id12)
        )

    async def new_name() -> bool:
        return await name_of(lookup, id12) == "Ngô Thị Mới"

    await eventually(new_name, within=WITHIN_S, what="the new name after a reconnect")
    await eventually(_reconnected(listener), within=5.0, what="the reconnect")


def _reconnected(listener: ChangeListener) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return listener.reconnects >= 1 and listener.backend_pid is not None

    return check


async def test_a_change_committed_after_a_later_one_is_not_missed(
    pg_pool: asyncpg.Pool, source: CountingSource, make_lookup: LookupFactory, settings: Settings
) -> None:
    slow, fast = new_id(), new_id()
    await add_citizen(pg_pool, slow, name="Đinh Văn Cũ")
    await add_citizen(pg_pool, fast, name="Lý Văn Cũ")
    lookup = await make_lookup(source)
    await listening(lookup, settings)
    assert await name_of(lookup, slow) == "Đinh Văn Cũ"
    async with pg_pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("UPDATE citizens SET full_name = 'Đinh Văn Mới' WHERE id_number = $1",
                           int(slow))  # fmt: skip
        await pg_pool.execute("UPDATE citizens SET full_name = 'Lý Văn Mới' WHERE id_number = $1",
                              int(fast))  # fmt: skip

        async def fast_new() -> bool:
            return await name_of(lookup, fast) == "Lý Văn Mới"

        await eventually(fast_new, within=WITHIN_S, what="the later change")
        assert await name_of(lookup, slow) == "Đinh Văn Cũ"  # not committed yet
        await tx.commit()

    async def slow_new() -> bool:
        return await name_of(lookup, slow) == "Đinh Văn Mới"

    await eventually(slow_new, within=WITHIN_S, what="the change with the lower seq")


async def test_a_new_instance_replays_what_redis_missed_while_no_listener_ran(
    pg_pool: asyncpg.Pool, source: CountingSource, make_lookup: LookupFactory, settings: Settings
) -> None:
    id12 = new_id()
    await add_citizen(pg_pool, id12, name="Cao Văn Cũ")
    first = await make_lookup(source)
    listener = await listening(first, settings)
    old = (await first.get_many([id12]))[id12]
    assert first.redis is not None
    await first.redis.drain()
    await listener.aclose()  # every instance is down...
    await pg_pool.execute(
        "UPDATE citizens SET full_name = 'Cao Văn Mới' WHERE id_number = $1", int(id12)
    )
    key = first.keyspace.record(id12)  # ...and Redis still holds the old record
    blob = await first.redis.client.get(key)
    assert isinstance(blob, bytes) and first.codec.open(key, blob).version == old.version

    second = await make_lookup(source)
    await listening(second, settings)
    assert await name_of(second, id12) == "Cao Văn Mới"
    await eventually(lambda: _redis_clean(second), within=WITHIN_S, what="the replay")
    blob = await first.redis.client.get(key)
    assert isinstance(blob, bytes) and first.codec.open(key, blob).version > old.version
    second.records.l1.clear()
    assert await name_of(second, id12) == "Cao Văn Mới"


async def _redis_clean(lookup: CachedRegister) -> bool:
    return lookup.redis_trusted()


async def test_without_a_live_feed_the_caches_are_bypassed(
    pg_pool: asyncpg.Pool, source: CountingSource, make_lookup: LookupFactory, settings: Settings
) -> None:
    id12 = new_id()
    await add_citizen(pg_pool, id12)
    lookup = await make_lookup(source)
    nowhere = PgChangeSource(
        "postgresql://postgres@127.0.0.1:1/none", timeout_s=0.2, connect_timeout_s=0.2
    )
    dead = ChangeListener(nowhere, lookup.invalidator)
    await lookup.listen(dead, wait_s=0.3)
    assert not lookup.cache_trusted()
    key = lookup.keyspace.record(id12)
    record = (await lookup.get_many([id12]))[id12]
    assert lookup.redis is not None
    fake = lookup.codec.seal(key, RECORD, record.version + 1, pack_record(record))
    await lookup.redis.write([(key, fake, RECORD_TTL_S * 1000)])
    for _ in range(3):
        assert (await lookup.get_many([id12]))[id12].version == record.version
    assert source.calls == 4
