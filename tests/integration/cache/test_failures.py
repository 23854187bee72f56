"""Invariant 3: with Redis down, stalled or cut, every lookup is answered from Postgres in time."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from cache.breaker import BreakerState
from cache.listener import ChangeListener
from cache.register import CachedRegister
from tests.integration.cache.conftest import (
    CountingSource,
    LookupFactory,
    add_citizen,
    metric,
    new_id,
)
from tests.support.tcpproxy import TcpProxy
from tests.support.wait import eventually
from verify import devservers
from verify.adapters.changes import PgChangeSource
from verify.settings import Settings

BUDGET_S = 0.5  # per lookup, Redis timeouts included
HITS = "verify_cache_requests_total"


@pytest.fixture
async def people(pg_pool: asyncpg.Pool) -> dict[str, str]:
    names = {new_id(): f"Nguyễn Văn Số {i}" for i in range(20)}
    for id12, name in names.items():
        await add_citizen(pg_pool, id12, name=name)
    return names


@pytest.fixture
async def proxy(own_redis: devservers.Redis) -> AsyncIterator[TcpProxy]:
    p = await TcpProxy("127.0.0.1", own_redis.port).start()
    yield p
    await p.aclose()


async def load(lookup: CachedRegister, people: dict[str, str], rounds: int = 3) -> float:
    """Concurrent lookups (L1 cleared between rounds); every one must answer right, in time."""
    slowest = 0.0

    async def one(id12: str) -> None:
        nonlocal slowest
        started = time.monotonic()
        found = await lookup.get_many([id12])
        slowest = max(slowest, time.monotonic() - started)
        assert found[id12].full_name == people[id12]

    for _ in range(rounds):
        lookup.records.l1.clear()
        await asyncio.gather(*(one(i) for i in people for _ in range(10)))
    assert slowest < BUDGET_S
    return slowest


async def redis_hits_again(lookup: CachedRegister, people: dict[str, str]) -> None:
    async def hits() -> bool:
        before = metric(lookup, HITS, tier="redis", result="hit")
        lookup.records.l1.clear()
        await load(lookup, people, rounds=1)
        assert lookup.redis is not None
        await lookup.redis.drain()
        return metric(lookup, HITS, tier="redis", result="hit") > before

    await eventually(hits, within=10.0, what="Redis hits after recovery")
    assert lookup.redis is not None and lookup.redis.breaker.state is BreakerState.CLOSED
    assert metric(lookup, "verify_redis_breaker_state") == 0


def _settings(settings: Settings, port: int) -> Settings:
    return dataclasses.replace(settings, redis_url=f"redis://127.0.0.1:{port}/0")


async def test_redis_stopped_under_load_then_restarted(
    people: dict[str, str],
    source: CountingSource,
    make_lookup: LookupFactory,
    settings: Settings,
    own_redis: devservers.Redis,
) -> None:
    lookup = await make_lookup(source, use=_settings(settings, own_redis.port), cooldown_s=0.2)
    await load(lookup, people, rounds=1)
    await asyncio.to_thread(own_redis.stop)

    await load(lookup, people)
    assert lookup.redis is not None and lookup.redis.breaker.state is not BreakerState.CLOSED
    assert metric(lookup, "verify_redis_errors_total", kind="connection") > 0
    assert metric(lookup, "verify_redis_breaker_state") in (1, 2)

    await asyncio.to_thread(own_redis.start)
    await redis_hits_again(lookup, people)


async def test_redis_stalled_then_cut_then_back(
    people: dict[str, str],
    source: CountingSource,
    make_lookup: LookupFactory,
    settings: Settings,
    proxy: TcpProxy,
) -> None:
    lookup = await make_lookup(source, use=_settings(settings, proxy.port), cooldown_s=0.2)
    await load(lookup, people, rounds=1)
    assert lookup.redis is not None
    await lookup.redis.drain()

    proxy.stall()
    await load(lookup, people)
    assert metric(lookup, "verify_redis_errors_total", kind="timeout") > 0
    assert lookup.redis.breaker.state is not BreakerState.CLOSED

    proxy.cut()
    await load(lookup, people)
    proxy.resume()
    await redis_hits_again(lookup, people)


async def test_tombstones_redis_missed_are_written_before_redis_is_read_again(
    people: dict[str, str],
    source: CountingSource,
    make_lookup: LookupFactory,
    settings: Settings,
    proxy: TcpProxy,
    pg_pool: asyncpg.Pool,
) -> None:
    use = _settings(settings, proxy.port)
    lookup = await make_lookup(source, use=use, cooldown_s=0.2)
    changes = PgChangeSource(use.database_url, timeout_s=2.0, connect_timeout_s=5.0)
    listener = ChangeListener(changes, lookup.invalidator)
    await lookup.listen(listener, wait_s=5.0)
    id12 = next(iter(people))
    await load(lookup, people, rounds=1)
    assert lookup.redis is not None
    await lookup.redis.drain()

    proxy.stall()
    await pg_pool.execute("UPDATE citizens SET full_name = 'Mới' WHERE id_number = $1", int(id12))
    people = {**people, id12: "Mới"}

    async def untrusted() -> bool:
        return not lookup.redis_trusted()

    await eventually(untrusted, within=1.0, what="Redis distrusted")
    await load(lookup, people)  # the new name, from Postgres
    proxy.resume()

    async def trusted() -> bool:
        return lookup.redis_trusted()

    await eventually(trusted, within=5.0, what="the tombstone written")
    await load(lookup, people)  # never the old record from Redis
