"""Per-key rate limits (GCRA in Redis, a local limiter while Redis is down) and key revocation."""

from __future__ import annotations

import dataclasses

import asyncpg

from tests.cases import AN, REGISTER, TODAY
from tests.e2e.conftest import AiohttpClient, Client
from tests.support.wait import eventually
from verify.adapters.api_keys import create_key, revoke_key
from verify.bootstrap import create_app
from verify.devservers import free_port
from verify.service.auth import mint_key
from verify.settings import Settings

BODY = {"id_number": AN}


async def _limited_key(db_url: str, rate: int, burst: int) -> tuple[str, str]:
    key = mint_key()
    conn = await asyncpg.connect(db_url, timeout=10)
    try:
        scopes = frozenset({"verify", "lookup:basic", "citizen:history"})
        await create_key(conn, key, agency="limited", scopes=scopes, rate_per_s=rate, burst=burst)
    finally:
        await conn.close()
    return key.key_id, key.token


async def _statuses(client: Client, token: str, n: int) -> list[int]:
    headers = {"Authorization": f"Bearer {token}"}
    return [(await client.post("/v1/verify", json=BODY, headers=headers)).status for _ in range(n)]


async def test_over_the_limit_is_429_with_retry_after(client: Client, loaded_db: str) -> None:
    _, token = await _limited_key(loaded_db, rate=1, burst=3)
    statuses = await _statuses(client, token, 5)
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
    response = await client.post(
        "/v1/verify", json=BODY, headers={"Authorization": f"Bearer {token}"}
    )
    problem = await response.json(content_type=None)
    assert problem["code"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 2
    text = await (await client.get("/metrics")).text()
    assert 'verify_rate_limited_total{agency="limited"}' in text


async def test_batch_items_count(client: Client, loaded_db: str) -> None:
    _, token = await _limited_key(loaded_db, rate=1, burst=10)
    headers = {"Authorization": f"Bearer {token}"}
    items = [{"id_number": e.record.id_number} for e in REGISTER[:8]]
    first = await client.post("/v1/verify/batch", json={"items": items}, headers=headers)
    second = await client.post("/v1/verify/batch", json={"items": items}, headers=headers)
    assert (first.status, second.status) == (200, 429)


async def test_the_limit_is_shared_by_instances(
    settings: Settings, loaded_db: str, aiohttp_client: AiohttpClient
) -> None:
    _, token = await _limited_key(loaded_db, rate=1, burst=4)
    one = await aiohttp_client(create_app(settings, today=lambda: TODAY))
    two = await aiohttp_client(create_app(settings, today=lambda: TODAY))
    statuses = await _statuses(one, token, 2) + await _statuses(two, token, 3)
    assert statuses == [200, 200, 200, 200, 429]


async def test_local_limit_while_redis_is_down(
    settings: Settings, loaded_db: str, aiohttp_client: AiohttpClient
) -> None:
    nowhere = dataclasses.replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    client = await aiohttp_client(create_app(nowhere, today=lambda: TODAY))
    _, token = await _limited_key(loaded_db, rate=1, burst=2)
    assert await _statuses(client, token, 4) == [200, 200, 429, 429]


async def test_revoked_key_stops_working_on_every_instance_within_seconds(
    settings: Settings, loaded_db: str, aiohttp_client: AiohttpClient
) -> None:
    fast = dataclasses.replace(settings, key_cache_ttl_s=0.5)
    instances = [await aiohttp_client(create_app(fast, today=lambda: TODAY)) for _ in range(2)]
    key_id, token = await _limited_key(loaded_db, rate=1000, burst=1000)
    for instance in instances:
        assert await _statuses(instance, token, 1) == [200]  # now cached on both
    conn = await asyncpg.connect(loaded_db, timeout=10)
    try:
        assert await revoke_key(conn, key_id)
    finally:
        await conn.close()
    for instance in instances:

        async def refused(c: Client = instance) -> bool:
            return await _statuses(c, token, 1) == [401]

        await eventually(refused, within=3, what="revocation seen")
