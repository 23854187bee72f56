"""Applies change-log rows to the cache tiers: L1 blocks and version-guarded Redis tombstones.

A tombstone carries the person's new version: the reader that fetched the old
record before the change is refused (``cas.lua``), the first reader of the new
one replaces it. Unknown versions (deleted persons, loads that do not log
one) and former-ID mappings get ``MAX_VERSION``: every fill is refused until
the tombstone expires, so those keys are answered from Postgres meanwhile.

A tombstone that Redis did not take stays pending and is retried; while any
is pending, :meth:`clean` is false and lookups do not read Redis at all.
"""

from __future__ import annotations

from collections.abc import Iterable

from cache.codec import CURSOR, TOMBSTONE, Codec, peek
from cache.keyspace import MAX_VERSION, TOMBSTONE_CHUNK, TOMBSTONE_TTL_S, KeySpace
from cache.l1 import L1
from cache.metrics import CacheMetrics
from cache.redis_tier import RedisTier, RedisUnavailable, Write
from verify.domain.changes import Change
from verify.domain.model import CitizenRecord


class Invalidator:
    def __init__(
        self,
        *,
        keyspace: KeySpace,
        codec: Codec,
        redis: RedisTier | None,
        records: L1[CitizenRecord],
        formers: L1[str],
        metrics: CacheMetrics | None = None,
    ) -> None:
        self._keys = keyspace
        self._codec = codec
        self._redis = redis
        self._records = records
        self._formers = formers
        self._metrics = metrics
        self._pending: dict[str, int] = {}  # Redis key -> tombstone version

    @property
    def clean(self) -> bool:
        """No tombstone is waiting for Redis."""
        return not self._pending

    async def apply(self, changes: Iterable[Change]) -> None:
        """Evict L1 now; tombstone Redis (failures stay pending, see :meth:`flush`)."""
        n = 0
        for change in changes:
            n += 1
            version = MAX_VERSION if change.version is None else change.version
            self._records.invalidate(change.id_number, version)
            self._pend(self._keys.record(change.id_number), version)
            if change.former_id is not None:
                self._formers.invalidate(change.former_id, MAX_VERSION)
                self._pend(self._keys.former(change.former_id), MAX_VERSION)
        if self._metrics is not None and n:
            self._metrics.invalidations.inc(n)
        await self.flush()

    async def flush(self) -> bool:
        """Write the pending tombstones; True when none is left."""
        if self._redis is None:
            self._pending.clear()
        if not self._pending:
            return True
        pending = list(self._pending.items())
        for start in range(0, len(pending), TOMBSTONE_CHUNK):
            if not await self._write(pending[start : start + TOMBSTONE_CHUNK]):
                return False
        return not self._pending

    async def _write(self, tombstones: list[tuple[str, int]]) -> bool:
        ttl = TOMBSTONE_TTL_S * 1000
        writes: list[Write] = [
            (key, self._codec.seal(key, TOMBSTONE, v), ttl) for key, v in tombstones
        ]
        try:
            assert self._redis is not None
            await self._redis.write(writes)
        except RedisUnavailable:
            return False
        for key, version in tombstones:
            if self._pending.get(key) == version:
                del self._pending[key]
        return True

    async def read_cursor(self) -> int | None:
        """The change-log seq up to which this Redis has seen every invalidation (None: unset)."""
        if self._redis is None:
            return None
        blob = await self._redis.get(self._keys.cursor)
        return None if blob is None else peek(blob)[1]

    async def raise_cursor(self, seq: int) -> None:
        if self._redis is not None and self.clean:
            key = self._keys.cursor
            await self._redis.write([(key, self._codec.seal(key, CURSOR, seq), 0)])

    def _pend(self, key: str, version: int) -> None:
        if version > self._pending.get(key, -1):
            self._pending[key] = version
