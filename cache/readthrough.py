"""One cached table: L1 -> Redis (one MGET per tick) -> the source (batched, single flight).

``ReadThrough`` is generic over what it caches (register records, former-ID
mappings); a :class:`Table` says how to key, seal and version its values.
Every key in flight joins one pipeline future (single flight from Redis down
to Postgres); what the source does not know is cached as a negative entry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from cache.coalesce import Fetch, TickBatcher
from cache.codec import NEGATIVE as NEGATIVE_KIND
from cache.codec import Codec, CodecError
from cache.keyspace import MGET_MAX, NEGATIVE_TTL_S
from cache.l1 import L1, NEGATIVE, Negative
from cache.metrics import CacheMetrics
from cache.redis_tier import RedisTier, RedisUnavailable

V = TypeVar("V")


class Freshness(Protocol):
    """Whether the invalidation feed is live enough to trust the cache tiers."""

    def cache_trusted(self) -> bool: ...

    def redis_trusted(self) -> bool: ...


class AlwaysFresh:
    def cache_trusted(self) -> bool:
        return True

    def redis_trusted(self) -> bool:
        return True


@dataclass(frozen=True)
class Table(Generic[V]):
    redis_key: Callable[[str], str]
    kind: bytes
    encode: Callable[[V], bytes]
    decode: Callable[[str, int, bytes], V]  # (id, version, payload)
    version: Callable[[V], int]
    ttl_ms: Callable[[], int]


class ReadThrough(Generic[V]):
    def __init__(
        self,
        table: Table[V],
        source: Fetch[str, V],
        *,
        l1: L1[V],
        codec: Codec,
        redis: RedisTier | None,
        freshness: Freshness,
        metrics: CacheMetrics | None = None,
        max_batch: int = 500,
    ) -> None:
        self.table = table
        self.l1 = l1
        self._codec = codec
        self._redis = redis
        self._fresh = freshness
        self._metrics = metrics
        self._fetch = source
        join = metrics.coalesced.inc if metrics is not None else None
        on_batch = metrics.db_batch.observe if metrics is not None else None
        self._source: TickBatcher[str, V] = TickBatcher(
            self._timed_fetch, max_batch=max_batch, on_batch=on_batch, on_join=join
        )
        self._pipeline: TickBatcher[str, V] = TickBatcher(
            self._load, max_batch=MGET_MAX, on_join=join
        )

    async def get_many(self, ids: Collection[str]) -> dict[str, V]:
        if not self._fresh.cache_trusted():
            if self._metrics is not None:
                self._metrics.bypassed.inc(len(ids))
            return await self._source.get_many(ids)
        found: dict[str, V] = {}
        missing: list[str] = []
        negative = 0
        for i in ids:
            value = self.l1.get(i)
            if value is None:
                missing.append(i)
            elif isinstance(value, Negative):
                negative += 1
            else:
                found[i] = value
        self._count("l1", len(found), negative, len(missing))
        if missing:
            found.update(await self._pipeline.get_many(missing))
        return found

    async def _load(self, ids: list[str]) -> Mapping[str, V]:
        cached = await self._from_redis(ids)
        rest = [i for i in ids if i not in cached]
        loaded = await self._source.get_many(rest) if rest else {}
        self._fill(rest, loaded)
        found = {i: v for i, v in cached.items() if not isinstance(v, Negative)}
        found.update(loaded)
        return found

    async def _from_redis(self, ids: list[str]) -> dict[str, V | Negative]:
        if self._redis is None or not self._fresh.redis_trusted():
            return {}
        redis_keys = [self.table.redis_key(i) for i in ids]
        try:
            blobs = await self._redis.mget(redis_keys)
        except RedisUnavailable:
            return {}
        cached: dict[str, V | Negative] = {}
        for i, key, blob in zip(ids, redis_keys, blobs, strict=True):
            value = self._open(i, key, blob) if blob is not None else None
            if value is not None:
                cached[i] = value
                self.l1.put(i, value, 0 if isinstance(value, Negative) else self._version(value))
        negative = sum(isinstance(v, Negative) for v in cached.values())
        self._count("redis", len(cached) - negative, negative, len(ids) - len(cached))
        return cached

    def _open(self, id_: str, key: str, blob: bytes) -> V | Negative | None:
        try:
            opened = self._codec.open(key, blob)
        except CodecError:
            if self._metrics is not None:
                self._metrics.redis_errors.labels("decode").inc()
            return None
        if opened.kind == NEGATIVE_KIND:
            return NEGATIVE
        if opened.kind != self.table.kind:
            return None  # a tombstone: a miss
        try:
            return self.table.decode(id_, opened.version, opened.payload)
        except CodecError:
            if self._metrics is not None:
                self._metrics.redis_errors.labels("decode").inc()
            return None

    def _fill(self, ids: list[str], loaded: Mapping[str, V]) -> None:
        redis = self._redis if self._fresh.redis_trusted() else None
        for i in ids:
            value = loaded.get(i)
            key = self.table.redis_key(i) if redis is not None else ""
            if value is None:
                self.l1.put(i, NEGATIVE, 0)
                if redis is not None:
                    blob = self._codec.seal(key, NEGATIVE_KIND, 0)
                    redis.fill(key, blob, NEGATIVE_TTL_S * 1000)
                continue
            version = self._version(value)
            self.l1.put(i, value, version)
            if redis is not None:
                blob = self._codec.seal(key, self.table.kind, version, self.table.encode(value))
                redis.fill(key, blob, self.table.ttl_ms())

    def _version(self, value: V) -> int:
        return self.table.version(value)

    async def _timed_fetch(self, ids: list[str]) -> Mapping[str, V]:
        started = time.perf_counter()
        try:
            return await self._fetch(ids)
        finally:
            if self._metrics is not None:
                self._metrics.db_seconds.observe(time.perf_counter() - started)

    def _count(self, tier: str, hits: int, negative: int, misses: int) -> None:
        if self._metrics is not None:
            self._metrics.hit(tier, hits)
            self._metrics.negative_hit(tier, negative)
            self._metrics.miss(tier, misses)

    async def aclose(self) -> None:
        await self._pipeline.aclose()
        await self._source.aclose()
