from __future__ import annotations

import asyncpg
import redis.asyncio as aioredis

from tests.conftest import Servers


async def test_postgres_is_18_and_migrated(pg_pool: asyncpg.Pool) -> None:
    version = await pg_pool.fetchval("SHOW server_version_num")
    assert int(version) >= 180000
    tables = {
        r["tablename"]
        for r in await pg_pool.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")
    }
    assert {"citizens", "id_cards", "former_ids", "agencies", "api_keys", "audit_log"} <= tables


async def test_redis_answers(servers: Servers) -> None:
    client = aioredis.Redis.from_url(servers.redis_url, socket_timeout=1)
    try:
        assert await client.ping()
    finally:
        await client.aclose()
