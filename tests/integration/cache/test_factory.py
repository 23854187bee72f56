"""open_register: DirectRegister when the cache is off, CachedRegister following the change
source when on."""

from __future__ import annotations

import dataclasses

import asyncpg
from prometheus_client import CollectorRegistry

from cache.direct import DirectRegister
from cache.metrics import CacheMetrics
from cache.register import CachedRegister, open_register
from tests.integration.cache.conftest import CountingSource, add_citizen, new_id
from verify.adapters.changes import PgChangeSource
from verify.bootstrap import cache_settings_from
from verify.settings import Settings


async def test_cache_disabled_bypasses_both_tiers(
    pg_pool: asyncpg.Pool, source: CountingSource, settings: Settings
) -> None:
    id12 = new_id()
    await add_citizen(pg_pool, id12)
    off = cache_settings_from(dataclasses.replace(settings, cache_enabled=False))
    lookup = await open_register(off, source, None)
    try:
        assert isinstance(lookup, DirectRegister)
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
    changes = PgChangeSource(settings.database_url, timeout_s=2.0, connect_timeout_s=5.0)
    lookup = await open_register(
        cache_settings_from(settings), source, changes, metrics=CacheMetrics(registry)
    )
    try:
        assert isinstance(lookup, CachedRegister)
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
