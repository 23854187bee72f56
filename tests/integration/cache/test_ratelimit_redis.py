"""The rate-limit script on a real Redis and on a 3-node cluster; fallback when Redis is gone."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable

import pytest

from cache.breaker import Breaker
from cache.redis_client import RedisClient, create_client
from verify.adapters.gcra_batch import ChargeBatcher
from verify.adapters.gcra_redis import redis_sender
from verify.adapters.ratelimit import RateLimiter
from verify.bootstrap import cache_settings_from
from verify.devservers import Redis
from verify.domain.gcra import Limit
from verify.settings import Settings

LIMIT = Limit(rate_per_s=1, burst=3)


@pytest.fixture
async def limiters() -> AsyncIterator[Callable[[Settings, list[int]], RateLimiter]]:
    clients: list[RedisClient] = []

    def make(settings: Settings, fallbacks: list[int]) -> RateLimiter:
        client = create_client(cache_settings_from(settings))
        clients.append(client)
        batcher = ChargeBatcher(redis_sender(client), breaker=Breaker(), deadline_s=0.2)
        return RateLimiter(
            batcher, prefix=settings.redis_key_prefix, on_fallback=lambda n: fallbacks.append(1)
        )

    yield make
    for client in clients:
        await client.aclose()


Make = Callable[[Settings, list[int]], RateLimiter]


async def test_limit_enforced_by_the_script(cache_settings: Settings, limiters: Make) -> None:
    fallbacks: list[int] = []
    one, two = limiters(cache_settings, fallbacks), limiters(cache_settings, fallbacks)
    decisions = [await one.check("k1", LIMIT, 1) for _ in range(2)]
    decisions += [await two.check("k1", LIMIT, 1) for _ in range(2)]  # shared state
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert decisions[-1].retry_after_us > 0
    assert (await one.check("k2", LIMIT, 1)).allowed  # another key, another bucket
    assert fallbacks == []


async def test_local_limit_while_redis_is_down(
    settings: Settings, own_redis: Redis, limiters: Make
) -> None:
    own = dataclasses.replace(settings, redis_url=own_redis.url)
    fallbacks: list[int] = []
    limiter = limiters(own, fallbacks)
    assert (await limiter.check("k", LIMIT, 1)).allowed
    own_redis.stop()
    decisions = [await limiter.check("k", LIMIT, 1) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert len(fallbacks) == 4
