"""``gcra_many.lua`` on a real Redis and a 3-node cluster gives the decisions of
``verify.domain.gcra.decide``, charge by charge, keys repeated and rules mixed in one batch,
packed as runs of one rule and cost (``script_runs``) and, on a standalone Redis, as a
hand-written RESP command."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.exceptions import ResponseError

from cache.breaker import Breaker
from cache.redis_client import create_client
from verify.adapters.gcra_batch import REDIS_ERRORS, Charge, ChargeBatcher
from verify.adapters.gcra_redis import SCRIPT, SHA, redis_sender
from verify.bootstrap import cache_settings_from
from verify.devservers import Redis
from verify.domain.gcra import Decision, Limit, Quota, Rule, decide
from verify.settings import Settings

RULES: list[Rule] = [
    Limit(1, 3),
    Limit(10, 1),
    Limit(1000, 50),
    Quota(3, 86_400),
    Quota(50, 86_400),
]
# a strict charge above its burst is never sent to a limiter: the service refuses it as
# attempts_exceed_quota first (verify/service/attempts.py), and the domain then names no wait
charges = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from(RULES), st.integers(1, 60), st.booleans()).filter(
        lambda c: not (c[3] and c[2] > c[1].burst)
    ),
    min_size=1,
    max_size=40,
)


# as a tick's charges come: runs of one rule and cost (the script gets them as one run of
# five numbers each), the same person or API key now and then more than once
runs = st.lists(
    st.tuples(st.integers(1, 30), st.sampled_from(RULES), st.integers(1, 5), st.booleans()).filter(
        lambda r: not (r[3] and r[2] > r[1].burst)
    ),
    min_size=1,
    max_size=6,
).map(
    lambda made: [
        (key, rule, cost, strict)
        for n, (count, rule, cost, strict) in enumerate(made)
        for key in [(n * 7 + i) % 11 for i in range(count)]
    ]
)


def expected(batch: list[Charge]) -> list[Decision]:
    """The domain's rule on one clock reading (the script reads Redis's TIME once); every key
    starts empty, so the answers do not depend on the reading."""
    now, tat, out = 10**15, dict[str, int](), []
    for key, rule, cost, strict in batch:
        d = decide(tat.get(key), now, rule, cost, strict=strict)
        if d.allowed:
            tat[key] = d.tat_us
        out.append(Decision(d.allowed, 0, d.retry_after_us))
    return out


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.one_of(charges, runs))
async def test_the_script_decides_as_the_domain(
    cache_settings: Settings, made: list[tuple[int, Rule, int, bool]]
) -> None:
    loose = dataclasses.replace(cache_settings, redis_timeout_s=1.0)
    client = create_client(cache_settings_from(loose))
    run = uuid.uuid4().hex  # fresh keys per example, spread over slots on the cluster
    batch = [
        Charge(f"{cache_settings.redis_key_prefix}:rl:v1:prop-{run}-{k}", rule, cost, strict)
        for k, rule, cost, strict in made
    ]
    try:
        send = redis_sender(client)
        batcher = ChargeBatcher(send, breaker=Breaker(), deadline_s=5.0)
        got = await batcher.charge(batch)
    finally:
        await client.aclose()
    assert got == expected(batch)


async def test_two_batches_share_the_state_and_it_expires(cache_settings: Settings) -> None:
    loose = dataclasses.replace(cache_settings, redis_timeout_s=1.0)
    client = create_client(cache_settings_from(loose))
    key = f"{cache_settings.redis_key_prefix}:rl:v1:ttl-{uuid.uuid4().hex}"
    try:
        batcher = ChargeBatcher(redis_sender(client), breaker=Breaker(), deadline_s=5.0)
        limit = Limit(10, 2)  # 100 ms a unit
        first = await asyncio.gather(
            *(batcher.charge([Charge(key, limit, 1, False)]) for _ in "ab")
        )
        assert [d is not None and d.allowed for [d] in first] == [True, True]
        [refused] = await batcher.charge([Charge(key, limit, 1, False)])
        assert refused is not None and not refused.allowed
        assert 0 < refused.retry_after_us <= 100_000
        ttl_ms = await client.pttl(key)
        assert 1_000 < ttl_ms <= 1_200  # the bucket's refill time plus a second
    finally:
        await client.aclose()


@pytest.mark.parametrize("size", [1, 1_000])
async def test_a_batch_at_the_cap_is_decided(cache_settings: Settings, size: int) -> None:
    loose = dataclasses.replace(cache_settings, redis_timeout_s=1.0)
    client = create_client(cache_settings_from(loose))
    run = uuid.uuid4().hex
    batch = [
        Charge(f"{cache_settings.redis_key_prefix}:pa:v1:big-{run}-{i}", Quota(3, 86_400), 1, True)
        for i in range(size)
    ]
    try:
        batcher = ChargeBatcher(redis_sender(client), breaker=Breaker(), deadline_s=5.0)
        got = await batcher.charge(batch)
    finally:
        await client.aclose()
    assert all(d is not None and d.allowed for d in got)


async def test_runs_not_covering_the_keys_are_refused_before_any_write(
    cache_settings: Settings,
) -> None:
    client = create_client(cache_settings_from(cache_settings))
    key = f"{cache_settings.redis_key_prefix}:rl:v1:runs-{uuid.uuid4().hex}"
    try:
        await client.script_load(SCRIPT)
        for args in ([2, 1000, 10, 1, 0], [1, 1000, 10, 1]):  # two keys' worth; a short run
            with pytest.raises(ResponseError, match="runs cover"):
                await client.evalsha(SHA, 1, key, *args)
        assert await client.get(key) is None
    finally:
        await client.aclose()


async def test_the_sender_recovers_from_a_redis_restart(
    settings: Settings, own_redis: Redis
) -> None:
    """Its kept connections die with the server: one round trip fails, the next reconnects
    and loads the script again (a restarted server has none)."""
    own = dataclasses.replace(settings, redis_url=own_redis.url, redis_timeout_s=1.0)
    client = create_client(cache_settings_from(own))
    send = redis_sender(client)
    limit = Limit(1, 3)
    try:
        assert await asyncio.gather(*(send([Charge("k", limit, 1, False)]) for _ in "ab")) == [
            [],
            [],
        ]  # two in flight at once: two connections kept
        own_redis.stop()
        own_redis.start()
        failed = 0
        for _ in range(3):
            try:
                assert await send([Charge("k2", limit, 3, False)]) == []  # the whole burst
                break
            except REDIS_ERRORS:
                failed += 1
        assert failed <= 1
        [index, wait] = await send([Charge("k2", limit, 1, False)])
        assert index == 0 and 0 < wait <= 1_000_000
    finally:
        await client.aclose()
