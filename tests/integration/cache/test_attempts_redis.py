"""The probing limit's script on a real Redis and on a 3-node cluster (keys on many slots)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from cache.breaker import Breaker
from cache.redis_client import create_client
from verify.adapters.attempts import RedisAttemptLimiter
from verify.adapters.gcra_batch import ChargeBatcher
from verify.adapters.gcra_redis import redis_sender
from verify.bootstrap import cache_settings_from
from verify.domain.gcra import Quota
from verify.settings import Settings

QUOTA = Quota(3, 86_400)
PEOPLE = [f"0010900000{i:02d}" for i in range(12)]  # their HMAC keys land on many slots


@pytest.fixture
async def limiter(cache_settings: Settings) -> AsyncIterator[RedisAttemptLimiter]:
    # routing and the rule are under test, not latency: a loose timeout on a busy box
    loose = dataclasses.replace(cache_settings, redis_timeout_s=1.0)
    client = create_client(cache_settings_from(loose))
    fallbacks: list[int] = []
    batcher = ChargeBatcher(redis_sender(client), breaker=Breaker(), deadline_s=2.0)
    yield RedisAttemptLimiter(
        batcher,
        prefix=cache_settings.redis_key_prefix,
        hmac_key=cache_settings.hmac_key.value,
        on_fallback=lambda n: fallbacks.append(n),
    )
    await batcher.aclose()
    await client.aclose()
    assert fallbacks == [], "Redis was not used"


async def test_each_person_has_a_bucket_per_agency(limiter: RedisAttemptLimiter) -> None:
    first = await limiter.spend(1, dict.fromkeys(PEOPLE, 2), QUOTA)
    assert all(d.allowed for d in first.values())
    second = await limiter.spend(1, {PEOPLE[0]: 1, PEOPLE[1]: 2}, QUOTA)
    assert second[PEOPLE[0]].allowed  # the third of three
    refused = second[PEOPLE[1]]  # two more when one remains: refused as a whole (strict)
    assert not refused.allowed and 0 < refused.retry_after_us <= 86_400 * 1_000_000
    assert (await limiter.spend(2, {PEOPLE[0]: 3}, QUOTA))[PEOPLE[0]].allowed  # another agency


async def test_a_batch_above_the_quota_never_passes(limiter: RedisAttemptLimiter) -> None:
    assert not (await limiter.spend(1, {PEOPLE[0]: 4}, QUOTA))[PEOPLE[0]].allowed
    assert (await limiter.spend(1, {PEOPLE[0]: 3}, QUOTA))[PEOPLE[0]].allowed


async def test_no_id_number_in_redis(
    limiter: RedisAttemptLimiter, cache_settings: Settings
) -> None:
    await limiter.spend(7, {PEOPLE[0]: 1}, QUOTA)
    client = create_client(cache_settings_from(cache_settings))
    try:
        pattern = f"{cache_settings.redis_key_prefix}:pa:*"
        keys = [k async for k in client.scan_iter(match=pattern)]
    finally:
        await client.aclose()
    assert len(keys) == 1
    assert PEOPLE[0].encode() not in keys[0]
