"""Rate-limit leases on a real Redis (and a 3-node cluster): two limiters (two processes)
sharing one key stay within the documented bound; with Redis gone, the local fallback."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence

import pytest

from cache.breaker import Breaker
from cache.redis_client import RedisClient, create_client
from verify.adapters.gcra_batch import Charge, ChargeBatcher
from verify.adapters.gcra_lease import LeasedRateLimiter, lease_size
from verify.adapters.gcra_redis import redis_sender
from verify.adapters.ratelimit import RateLimiter
from verify.bootstrap import cache_settings_from
from verify.devservers import Redis
from verify.domain.gcra import Limit
from verify.settings import Settings


@dataclasses.dataclass
class Process:
    limiter: LeasedRateLimiter
    batcher: ChargeBatcher
    client: RedisClient
    sent: list[Charge]  # every charge this process sent to Redis
    fallbacks: list[int]


Make = Callable[[Settings], Process]


@pytest.fixture
async def processes() -> AsyncIterator[Make]:
    made: list[Process] = []

    def make(settings: Settings) -> Process:
        loose = dataclasses.replace(settings, redis_timeout_s=max(settings.redis_timeout_s, 0.5))
        client = create_client(cache_settings_from(loose))
        send, sent = redis_sender(client), list[Charge]()

        async def counted(charges: Sequence[Charge]) -> Sequence[int]:
            sent.extend(charges)
            return await send(charges)

        batcher = ChargeBatcher(counted, breaker=Breaker(), deadline_s=2.0)
        fallbacks: list[int] = []
        exact = RateLimiter(
            batcher, prefix=settings.redis_key_prefix, on_fallback=lambda n: fallbacks.append(1)
        )
        limiter = LeasedRateLimiter(exact, batcher, max_tokens=100, ttl_s=1.0)
        process = Process(limiter, batcher, client, sent, fallbacks)
        made.append(process)
        return process

    yield make
    for p in made:
        await p.limiter.aclose()
        await p.batcher.aclose()
        await p.client.aclose()


async def _hammer(p: Process, key: str, limit: Limit, until: float, admitted: list[float]) -> None:
    """Eight requests at a time, one tick apart, as a busy process serves them."""
    while time.monotonic() < until:
        decisions = await asyncio.gather(*(p.limiter.check(key, limit, 1) for _ in range(8)))
        admitted += [time.monotonic()] * sum(d.allowed for d in decisions)
        await asyncio.sleep(0)


async def test_two_processes_stay_within_a_lease_each_of_the_limit(
    cache_settings: Settings, processes: Make
) -> None:
    limit = Limit(rate_per_s=200, burst=400)  # a lease of at most 40 tokens
    size = lease_size(limit, 100)
    key = f"lease-{uuid.uuid4().hex}"
    procs = [processes(cache_settings), processes(cache_settings)]
    admitted: list[float] = []
    until = time.monotonic() + 1.5
    await asyncio.gather(*(_hammer(p, key, limit, until, admitted) for p in procs))
    admitted.sort()
    leased = sum(c.cost for p in procs for c in p.sent if c.strict)
    assert leased > 0, "no lease was asked"
    assert len(admitted) > limit.burst  # the key was kept at its limit
    # any window: burst + rate x length, plus one lease per process; Redis's clock and
    # ours differ by a round trip, a few tokens at this rate
    slack = 1 + limit.rate_per_s * 0.05
    for i in range(0, len(admitted), 25):
        for j in range(i, len(admitted), 25):
            length = admitted[j] - admitted[i]
            bound = limit.burst + limit.rate_per_s * length + len(procs) * size + slack
            assert j - i + 1 <= bound, (i, j, length)
    assert all(not p.fallbacks for p in procs), "Redis was not used"


async def test_a_busy_key_under_its_limit_rarely_waits_on_redis(
    cache_settings: Settings, processes: Make
) -> None:
    limit = Limit(rate_per_s=100_000, burst=200_000)
    p = processes(cache_settings)
    key = f"busy-{uuid.uuid4().hex}"
    for _ in range(200):
        decisions = await asyncio.gather(*(p.limiter.check(key, limit, 1) for _ in range(8)))
        assert all(d.allowed for d in decisions)
        await asyncio.sleep(0)
    on_their_own = [c for c in p.sent if not c.strict]
    assert len(on_their_own) < 200, len(on_their_own)  # of 1,600 requests
    assert p.limiter.held(key) <= lease_size(limit, 100)


async def test_leases_and_the_local_fallback_while_redis_is_down(
    settings: Settings, own_redis: Redis, processes: Make
) -> None:
    p = processes(dataclasses.replace(settings, redis_url=own_redis.url))
    limit = Limit(rate_per_s=1, burst=60)  # a lease of at most 6 tokens
    for _ in range(4):
        assert (await p.limiter.check("k", limit, 1)).allowed
        await asyncio.sleep(0.01)
    await p.limiter.aclose()  # the lease in flight, if any, has landed
    held = p.limiter.held("k")
    own_redis.stop()
    decisions = [await p.limiter.check("k", limit, 1) for _ in range(80)]
    allowed = sum(d.allowed for d in decisions)
    # the held tokens (charged before), then a local bucket of the same rule
    assert held + limit.burst <= allowed <= held + limit.burst + 1
    assert p.fallbacks and not decisions[-1].allowed and decisions[-1].retry_after_us > 0
