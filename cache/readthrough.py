"""One cached table: L1 -> Redis (one MGET per tick) -> the source (batched, single flight).

``ReadThrough`` is generic over what it caches (register records, former-ID
mappings); a :class:`Table` says how to key, seal and version its values.
Every key in flight joins one pipeline fetch (single flight from Redis down
to Postgres); what the source does not know is cached as a negative entry.
An L1 hit costs one dict lookup per ID and no await; entries read near their
expiry are reloaded with the tick's batch, off the request path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from cache.coalesce import Fetch, TickBatcher
from cache.codec import NEGATIVE as NEGATIVE_KIND
from cache.codec import Codec, CodecError
from cache.keyspace import MGET_MAX, NEGATIVE_TTL_S, REFRESH_MAX_KEYS
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
        self.trust(freshness)
        self._metrics = metrics
        self._fetch = source
        self._refreshing: set[str] = set()  # keys due for a refresh, reloading
        join = metrics.joined if metrics is not None else None
        on_batch = metrics.db_batch.observe if metrics is not None else None
        if metrics is not None:
            self._l1_tally, self._redis_tally = metrics.tally("l1"), metrics.tally("redis")
        self._source: TickBatcher[str, V] = TickBatcher(
            self._timed_fetch, max_batch=max_batch, on_batch=on_batch, on_join=join
        )
        self._pipeline: TickBatcher[str, V] = TickBatcher(
            self._load, max_batch=MGET_MAX, on_join=join,
            on_unwaited_failure=metrics.refresh_failures.inc if metrics is not None else None,
        )  # fmt: skip

    def trust(self, freshness: Freshness) -> None:
        """Ask ``freshness`` (the change-feed listener) whether the tiers may be read."""
        self._cache_trusted = freshness.cache_trusted
        self._redis_trusted = freshness.redis_trusted

    async def get_many(self, ids: Collection[str]) -> dict[str, V]:
        if not self._cache_trusted():
            if self._metrics is not None:
                self._metrics.bypassed.inc(len(ids))
            return await self._source.request(ids)
        found: dict[str, V] = {}
        negative, missing, due = self.l1.read(ids, found)
        if self._metrics is not None:
            misses = 0 if missing is None else len(missing)
            self._metrics.count(self._l1_tally, len(found), negative, misses)
        if due is not None:
            self._refresh(due)
        if missing is not None:
            found.update(await self._pipeline.request(missing))
        return found

    def _refresh(self, due: list[str]) -> None:
        """Reload entries read near their expiry with this tick's batch, waited for by no
        request: a hot entry is replaced before it expires. The reload is an ordinary
        load (Redis, then the source), under the same trust and version guards."""
        refreshing = self._refreshing
        keys = [k for k in due if k not in refreshing]
        if keys and len(refreshing) < REFRESH_MAX_KEYS:
            refreshing.update(keys)
            self._pipeline.prefetch(keys)

    async def _load(self, ids: list[str]) -> Mapping[str, V]:
        try:
            cached = await self._from_redis(ids)
            if not cached:
                loaded = await self._source.request(ids)
                self._fill(ids, loaded)
                return loaded
            rest = [i for i in ids if i not in cached]
            loaded = await self._source.request(rest) if rest else {}
            if rest:
                self._fill(rest, loaded)
            found = {i: v for i, v in cached.items() if v is not NEGATIVE}
            found.update(loaded)
            return found  # type: ignore[return-value]  # NEGATIVE left out: every value a V
        finally:
            if self._refreshing:
                self._refreshing.difference_update(ids)

    async def _from_redis(self, ids: list[str]) -> dict[str, V | Negative]:
        if self._redis is None or not self._redis_trusted():
            return {}
        redis_key = self.table.redis_key
        redis_keys = [redis_key(i) for i in ids]
        try:
            blobs = await self._redis.mget(redis_keys)
        except RedisUnavailable:
            return {}
        cached: dict[str, V | Negative] = {}
        negative = 0
        put, version = self.l1.put, self.table.version
        for i, key, blob in zip(ids, redis_keys, blobs, strict=True):
            if blob is None:
                continue
            value = self._open(i, key, blob)
            if value is None:
                continue
            cached[i] = value
            if value is NEGATIVE:
                negative += 1
                put(i, value, 0)
            else:
                put(i, value, version(value))  # type: ignore[arg-type]  # not NEGATIVE: a V
        if self._metrics is not None:
            misses = len(ids) - len(cached)
            self._metrics.count(self._redis_tally, len(cached) - negative, negative, misses)
        return cached

    def _open(self, id_: str, key: str, blob: bytes) -> V | Negative | None:
        try:
            kind, version, payload = self._codec.open(key, blob)
            if kind == NEGATIVE_KIND:
                return NEGATIVE
            if kind != self.table.kind:
                return None  # a tombstone: a miss
            return self.table.decode(id_, version, payload)
        except CodecError:
            if self._metrics is not None:
                self._metrics.redis_errors.labels("decode").inc()
            return None

    def _fill(self, ids: list[str], loaded: Mapping[str, V]) -> None:
        redis = self._redis if self._redis_trusted() else None
        for i in ids:
            value = loaded.get(i)
            key = self.table.redis_key(i) if redis is not None else ""
            if value is None:
                self.l1.put(i, NEGATIVE, 0)
                if redis is not None:
                    blob = self._codec.seal(key, NEGATIVE_KIND, 0)
                    redis.fill(key, blob, NEGATIVE_TTL_S * 1000)
                continue
            version = self.table.version(value)
            self.l1.put(i, value, version)
            if redis is not None:
                blob = self._codec.seal(key, self.table.kind, version, self.table.encode(value))
                redis.fill(key, blob, self.table.ttl_ms())

    async def _timed_fetch(self, ids: list[str]) -> Mapping[str, V]:
        started = time.perf_counter()
        try:
            return await self._fetch(ids)
        finally:
            if self._metrics is not None:
                self._metrics.db_seconds.observe(time.perf_counter() - started)

    async def aclose(self) -> None:
        await self._pipeline.aclose()
        await self._source.aclose()
