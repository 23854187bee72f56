"""The register read pipeline (L1 -> Redis -> the record source) and its factory.

``open_register`` is handed the record source, the change source and the
cache's settings; what it returns is the service's ``Register`` port.

Redis is an accelerator, never a dependency (DESIGN.md invariant 3): any
Redis error is counted, told to the breaker, and the lookup carries on to
Postgres. The caches are trusted only while the change feed is live
(invariant 2, see :mod:`cache.listener`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Coroutine
from typing import Any

from cache.breaker import Breaker
from cache.codec import FORMER, RECORD, Codec, CodecError, pack_record, unpack_record
from cache.direct import DirectRegister
from cache.invalidation import Invalidator
from cache.keyspace import FORMER_TTL_S, KeySpace, record_ttl_ms
from cache.l1 import L1
from cache.listener import ChangeListener
from cache.metrics import CacheMetrics
from cache.readthrough import AlwaysFresh, Freshness, ReadThrough, Table
from cache.redis_client import create_client
from cache.redis_tier import RedisTier
from cache.settings import CacheSettings
from cache.sources import ChangeSource, RecordSource
from verify.domain.model import CitizenRecord

LISTENER_START_WAIT_S = 2.0


def _unpack_former(_: str, __: int, payload: bytes) -> str:
    id12 = payload.decode("ascii", errors="replace")
    if len(id12) != 12 or not id12.isdigit():
        raise CodecError("cache former-ID payload is malformed")
    return id12


def _former_ttl_ms() -> int:
    return FORMER_TTL_S * 1000


class CachedRegister:
    """The register with an in-process tier and a Redis tier in front of the record source."""

    # the read pipelines' own methods, bound in __init__: one coroutine less per lookup
    get_many: Callable[[Collection[str]], Coroutine[Any, Any, dict[str, CitizenRecord]]]
    resolve_former: Callable[[Collection[str]], Coroutine[Any, Any, dict[str, str]]]

    def __init__(
        self,
        source: RecordSource,
        *,
        keyspace: KeySpace,
        codec: Codec,
        redis: RedisTier | None,
        metrics: CacheMetrics | None = None,
        max_batch: int = 500,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis
        self.metrics = metrics
        self.keyspace = keyspace
        self.codec = codec
        self.freshness: Freshness = AlwaysFresh()
        self.listener: ChangeListener | None = None
        records: Table[CitizenRecord] = Table(
            keyspace.record, RECORD, pack_record, unpack_record, _version, record_ttl_ms
        )
        formers: Table[str] = Table(
            keyspace.former, FORMER, str.encode, _unpack_former, _no_version, _former_ttl_ms
        )
        self.records = ReadThrough(
            records,
            source.fetch_records,
            l1=L1(clock=clock),
            codec=codec,
            redis=redis,
            freshness=self,
            metrics=metrics,
            max_batch=max_batch,
        )
        self.formers = ReadThrough(
            formers,
            source.resolve_former,
            l1=L1(clock=clock),
            codec=codec,
            redis=redis,
            freshness=self,
            metrics=metrics,
            max_batch=max_batch,
        )
        self.get_many = self.records.get_many
        self.resolve_former = self.formers.get_many
        self.invalidator = Invalidator(
            keyspace=keyspace,
            codec=codec,
            redis=redis,
            records=self.records.l1,
            formers=self.formers.l1,
            metrics=metrics,
        )

    # Freshness, as the ReadThroughs see it (delegates to the listener once attached)
    def cache_trusted(self) -> bool:
        return self.freshness.cache_trusted()

    def redis_trusted(self) -> bool:
        return self.redis is not None and self.freshness.redis_trusted()

    async def listen(self, listener: ChangeListener, wait_s: float) -> None:
        self.listener = listener
        self.freshness = listener
        self.records.trust(listener)  # directly: without a Redis tier, they read none anyway
        self.formers.trust(listener)
        await listener.start(wait_s)

    async def aclose(self) -> None:
        if self.listener is not None:
            await self.listener.aclose()
        await self.records.aclose()
        await self.formers.aclose()
        if self.redis is not None:
            await self.redis.aclose()


def _version(record: CitizenRecord) -> int:
    return record.version


def _no_version(_: str) -> int:
    return 0  # mappings are guarded by MAX_VERSION tombstones only


async def open_register(
    settings: CacheSettings,
    source: RecordSource,
    changes: ChangeSource | None,
    *,
    metrics: CacheMetrics | None = None,
) -> CachedRegister | DirectRegister:
    """DirectRegister when the cache is off, else CachedRegister following ``changes`` (its
    listener started; without a change source the tiers are trusted as they are: tests only)."""
    on_batch = metrics.db_batch.observe if metrics is not None else None
    if not settings.enabled:
        return DirectRegister(source, max_batch=settings.max_batch, on_batch=on_batch)
    on_change = metrics.breaker_changed if metrics is not None else None
    redis = RedisTier(
        create_client(settings),
        breaker=Breaker(on_change=on_change),
        timeout_s=settings.redis_timeout_s,
        metrics=metrics,
    )
    register = CachedRegister(
        source,
        keyspace=KeySpace(settings.key_prefix, settings.hmac_key),
        codec=Codec(settings.cache_key),
        redis=redis,
        metrics=metrics,
        max_batch=settings.max_batch,
    )
    if changes is not None:
        await register.listen(ChangeListener(changes, register.invalidator), LISTENER_START_WAIT_S)
    return register
