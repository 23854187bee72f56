"""open_lookup: DirectLookup when the cache is off, CachedLookup with its listener when on."""

from __future__ import annotations

import dataclasses

import asyncpg
from prometheus_client import CollectorRegistry

from cache.direct import DirectLookup
from cache.metrics import CacheMetrics
from cache.register import CachedLookup, open_lookup
from tests.integration.cache.conftest import CountingSource, add_citizen, new_id
from verify.settings import Settings


async def test_cache_disabled_bypasses_both_tiers(
    pg_pool: asyncpg.Pool, source: CountingSource, settings: Settings
) -> None:
    id12 = new_id()
    await add_citizen(pg_pool, id12)
    lookup = await open_lookup(dataclasses.replace(settings, cache_enabled=False), source)
    try:
        assert isinstance(lookup, DirectLookup)
        for _ in range(3):
            assert id12 in await lookup.get_many([id12])
        assert source.calls == 3
    finally:
        await lookup.aclose()


async def test_cache_enabled_listens_and_counts(
    pg_pool: asyncpg.Pool, source: CountingSource, settings: Settings
) -> None:
    id12 = new_id()
    await add_citizen(pg_pool, id12, former="011122233")
    registry = CollectorRegistry()
    lookup = await open_lookup(settings, source, metrics=CacheMetrics(registry))
    try:
        assert isinstance(lookup, CachedLookup)
        assert lookup.listener is not None and lookup.redis_trusted()
        assert await lookup.resolve_former(["011122233"]) == {"011122233": id12}
        for _ in range(3):
            assert id12 in await lookup.get_many([id12])
        assert source.calls == 2
        sample = registry.get_sample_value
        assert sample("verify_db_batch_size_count") == 2
        assert sample("verify_db_query_seconds_count") == 2
        assert sample("verify_cache_requests_total", {"tier": "l1", "result": "hit"}) == 2
    finally:
        await lookup.aclose()
