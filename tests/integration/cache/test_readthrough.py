"""Read-through across the tiers, negative entries, single flight and the version guard.

Each test runs against the single Redis and against a 3-node Redis Cluster.
"""

from __future__ import annotations

import asyncio

import asyncpg

from cache.codec import RECORD, TOMBSTONE, pack_record
from cache.keyspace import RECORD_TTL_S
from tests.integration.cache.conftest import (
    CountingSource,
    LookupFactory,
    add_citizen,
    metric,
    new_id,
)
from verify.settings import Settings

REQUESTS = "verify_cache_requests_total"


async def test_second_read_hits_redis_and_third_hits_l1(
    pg_pool: asyncpg.Pool,
    source: CountingSource,
    make_lookup: LookupFactory,
    cache_settings: Settings,
) -> None:
    id12 = new_id()
    await add_citizen(pg_pool, id12, name="Trần Thị Bình")
    lookup = await make_lookup(source, use=cache_settings)

    first = await lookup.get_many([id12])
    assert first[id12].full_name == "Trần Thị Bình"
    assert source.calls == 1
    assert lookup.redis is not None
    await lookup.redis.drain()
    lookup.records.l1.clear()

    second = await lookup.get_many([id12])
    assert metric(lookup, REQUESTS, tier="redis", result="hit") == 1
    third = await lookup.get_many([id12])
    assert metric(lookup, REQUESTS, tier="l1", result="hit") == 1
    assert first == second == third
    assert source.calls == 1


async def test_unknown_ids_are_cached_as_negative_entries(
    pg_pool: asyncpg.Pool,
    source: CountingSource,
    make_lookup: LookupFactory,
    cache_settings: Settings,
) -> None:
    unknown = [new_id() for _ in range(20)]
    lookup = await make_lookup(source, use=cache_settings)
    assert await lookup.get_many(unknown) == {}
    assert lookup.redis is not None
    await lookup.redis.drain()

    for _ in range(5):
        lookup.records.l1.clear()
        assert await lookup.get_many(unknown) == {}
    assert source.calls == 1
    assert metric(lookup, REQUESTS, tier="redis", result="negative_hit") == 5 * 20

    other = await make_lookup(source, use=cache_settings)  # another instance: Redis answers
    assert await other.get_many(unknown[:3]) == {}
    assert source.calls == 1


async def test_concurrent_gets_of_one_key_make_one_source_call(
    pg_pool: asyncpg.Pool,
    source: CountingSource,
    make_lookup: LookupFactory,
    cache_settings: Settings,
) -> None:
    id12 = new_id()
    await add_citizen(pg_pool, id12)
    lookup = await make_lookup(source, use=cache_settings)
    results = await asyncio.gather(*(lookup.get_many([id12]) for _ in range(100)))
    assert all(r[id12].id_number == id12 for r in results)
    assert source.calls == 1
    assert source.ids == [id12]
    assert metric(lookup, "verify_cache_coalesced_keys_total") == 99


async def test_former_ids_are_cached_both_ways(
    pg_pool: asyncpg.Pool,
    source: CountingSource,
    make_lookup: LookupFactory,
    cache_settings: Settings,
) -> None:
    id12 = new_id()
    await add_citizen(pg_pool, id12, former="012345678")
    lookup = await make_lookup(source, use=cache_settings)
    assert await lookup.resolve_former(["012345678", "098765432"]) == {"012345678": id12}
    assert lookup.redis is not None
    await lookup.redis.drain()
    lookup.formers.l1.clear()
    assert await lookup.resolve_former(["012345678", "098765432"]) == {"012345678": id12}
    assert source.calls == 1


async def test_a_slow_fill_never_puts_an_older_version_back(
    pg_pool: asyncpg.Pool,
    source: CountingSource,
    make_lookup: LookupFactory,
    cache_settings: Settings,
) -> None:
    id12 = new_id()
    await add_citizen(pg_pool, id12, name="Lê Văn Cũ")
    lookup = await make_lookup(source, use=cache_settings)
    old = (await lookup.get_many([id12]))[id12]  # read by a slow reader...
    await pg_pool.execute(
        "UPDATE citizens SET full_name = 'Lê Văn Mới' WHERE id_number = $1", int(id12)
    )
    lookup.records.l1.clear()
    assert lookup.redis is not None
    await lookup.redis.drain()
    key = lookup.keyspace.record(id12)
    await lookup.redis.client.delete(key)
    new = (await lookup.get_many([id12]))[id12]  # ...while a fast one fills the new version
    await lookup.redis.drain()
    assert new.version > old.version

    codec, ttl = lookup.codec, RECORD_TTL_S * 1000
    stale = codec.seal(key, RECORD, old.version, pack_record(old))
    assert await lookup.redis.write([(key, stale, ttl)]) == [False]  # over a newer record

    tomb = codec.seal(key, TOMBSTONE, new.version + 1)
    assert await lookup.redis.write([(key, tomb, ttl)]) == [True]
    current = codec.seal(key, RECORD, new.version, pack_record(new))
    assert await lookup.redis.write([(key, stale, ttl), (key, current, ttl)]) == [False, False]
    assert await lookup.redis.write([(key, tomb, ttl)]) == [False]  # tombstones only rise

    lookup.records.l1.clear()
    calls = source.calls
    assert (await lookup.get_many([id12]))[id12].full_name == "Lê Văn Mới"
    assert source.calls == calls + 1  # the tombstone is a miss, never the old record


async def test_writes_of_a_tick_keep_the_guard_in_order_across_calls_and_a_lost_script(
    source: CountingSource, make_lookup: LookupFactory, cache_settings: Settings
) -> None:
    """More writes than one cas_many.lua call takes, the same key several times in order,
    then the server's scripts flushed (a restarted Redis): each reply is its write's."""
    from cache.codec import NEGATIVE
    from cache.redis_tier import CAS_MANY_MAX

    lookup = await make_lookup(source, use=cache_settings)
    assert lookup.redis is not None
    codec, ttl = lookup.codec, RECORD_TTL_S * 1000
    keys = [lookup.keyspace.record(new_id()) for _ in range(CAS_MANY_MAX + 3)]
    first = [(k, codec.seal(k, NEGATIVE, 0), ttl) for k in keys]
    assert await lookup.redis.write(first) == [True] * len(keys)
    k = keys[-1]
    tomb, newer = codec.seal(k, TOMBSTONE, 5), codec.seal(k, TOMBSTONE, 6)
    again = [*first[:2], (k, tomb, ttl), (k, tomb, ttl), (k, newer, ttl)]
    assert await lookup.redis.write(again) == [False, False, True, False, True]
    await lookup.redis.client.script_flush()
    assert await lookup.redis.write([(k, codec.seal(k, TOMBSTONE, 7), ttl)]) == [True]
    blob = await lookup.redis.get(k)
    assert blob is not None and blob[:17] == TOMBSTONE + b"%016x" % 7
