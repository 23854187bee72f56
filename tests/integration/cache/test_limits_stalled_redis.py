"""The limiters' Redis stalled behind a proxy: a verify's charge is decided locally at its
deadline, a batch's at its longer one (never later), each counted; once Redis answers
again it decides them again."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator

import pytest

from cache.breaker import Breaker
from cache.redis_client import create_client
from tests.support.tcpproxy import TcpProxy
from tests.support.wait import eventually
from verify import devservers
from verify.adapters.attempts import RedisAttemptLimiter
from verify.adapters.gcra_batch import ChargeBatcher
from verify.adapters.gcra_redis import redis_sender
from verify.bootstrap import cache_settings_from
from verify.domain.gcra import Quota
from verify.settings import Settings

QUOTA = Quota(50, 86_400)
SINGLE_S, BULK_S = 0.15, 0.6
SLACK_S = 0.35  # a loaded CI box's scheduling, on top of a deadline


@pytest.fixture
async def proxy(own_redis: devservers.Redis) -> AsyncIterator[TcpProxy]:
    p = await TcpProxy("127.0.0.1", own_redis.port).start()
    yield p
    await p.aclose()


async def test_a_stalled_redis_costs_each_charge_its_own_deadline_then_redis_decides_again(
    settings: Settings, proxy: TcpProxy, loop_errors_expected: None
) -> None:
    use = dataclasses.replace(settings, redis_url=f"redis://127.0.0.1:{proxy.port}/0")
    client = create_client(cache_settings_from(use))
    batcher = ChargeBatcher(
        redis_sender(client), breaker=Breaker(failures=5, cooldown_s=0.2),
        deadline_s=SINGLE_S, bulk_deadline_s=BULK_S,
    )  # fmt: skip
    local: list[int] = []
    limiter = RedisAttemptLimiter(
        batcher, prefix=settings.redis_key_prefix, hmac_key=settings.hmac_key.value,
        on_fallback=local.append,
    )  # fmt: skip
    people = (f"0010900{i:05d}" for i in range(1_000))

    async def redis_decides() -> bool:
        before = len(local)
        await limiter.spend(1, {next(people): 1}, QUOTA)
        return len(local) == before

    async def stalled(persons: int, deadline_s: float) -> None:
        await eventually(redis_decides, within=10.0, what="Redis deciding the charges")
        before = len(local)
        proxy.stall()  # on a connection in step: the reply never comes
        started = time.monotonic()
        decisions = await limiter.spend(1, {next(people): 1 for _ in range(persons)}, QUOTA)
        took = time.monotonic() - started
        proxy.resume()
        assert all(d.allowed for d in decisions.values())  # the per-process rule, same quota
        assert deadline_s * 0.9 <= took < deadline_s + SLACK_S, took
        assert local[before:] == [persons], "not decided (and counted) locally"

    try:
        await stalled(2, BULK_S)  # a batch waits for Redis up to its own deadline
        await stalled(1, SINGLE_S)  # a verify up to its own, shorter one
        await eventually(redis_decides, within=10.0, what="Redis deciding the charges again")
    finally:
        proxy.resume()
        await batcher.aclose()
        await client.aclose()
