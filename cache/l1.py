"""The in-process tier: a small LRU with a short TTL, and version blocks left by invalidations.

The TTL bounds memory, not freshness: the change feed evicts a changed person at once,
and every tier is bypassed while the feed is not live (:mod:`cache.listener`). An entry
read in the last ``refresh_ahead_s`` of its life is reported *due*: the caller reloads it
off the request path (:class:`cache.readthrough.ReadThrough`), so a hot entry is replaced
before it expires and its readers never wait for Redis.

A *block* ("do not fill below version V") is what an invalidation leaves
behind: a reader that fetched the old record before the change and stores it
after the invalidation is refused, exactly like the Redis tombstone. Values
are stored with their version; negative entries have version 0.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from cache.keyspace import (
    L1_BLOCK_TTL_S,
    L1_MAX_BLOCKS,
    L1_MAX_ENTRIES,
    L1_REFRESH_AHEAD_S,
    L1_TTL_S,
)

V = TypeVar("V")

Clock = Callable[[], float]


class Negative:
    """The L1 value of "not in the register"."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NEGATIVE"


NEGATIVE = Negative()


class L1(Generic[V]):
    def __init__(
        self,
        *,
        max_entries: int = L1_MAX_ENTRIES,
        ttl_s: float = L1_TTL_S,
        refresh_ahead_s: float = L1_REFRESH_AHEAD_S,
        block_ttl_s: float = L1_BLOCK_TTL_S,
        max_blocks: int = L1_MAX_BLOCKS,
        clock: Clock = time.monotonic,
    ) -> None:
        self._max = max_entries
        self._ttl = ttl_s
        self._fresh_for = ttl_s - min(refresh_ahead_s, ttl_s / 2)  # then due for a refresh
        self._block_ttl = block_ttl_s
        self._max_blocks = max_blocks
        self._clock = clock
        # key -> (refresh at, expires at, value)
        self._entries: OrderedDict[str, tuple[float, float, V | Negative]] = OrderedDict()
        self._blocks: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> V | Negative | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        _, expires, value = entry
        if expires <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def read(
        self, keys: Iterable[str], found: dict[str, V]
    ) -> tuple[int, list[str] | None, list[str] | None]:
        """Put the values of ``keys`` held here into ``found``; returns the number of
        negative entries read, the keys missing (or expired), and the keys read that are
        due for a refresh (None when there are none)."""
        entries = self._entries
        now = self._clock()
        negative = 0
        missing: list[str] | None = None
        due: list[str] | None = None
        for key in keys:
            entry = entries.get(key)
            if entry is None:
                if missing is None:
                    missing = []
                missing.append(key)
                continue
            refresh_at, expires, value = entry
            if refresh_at <= now:
                if expires <= now:
                    del entries[key]
                    if missing is None:
                        missing = []
                    missing.append(key)
                    continue
                if due is None:
                    due = []
                due.append(key)
            entries.move_to_end(key)
            if value is NEGATIVE:
                negative += 1
            else:
                found[key] = value  # type: ignore[assignment]  # not NEGATIVE: a V
        return negative, missing, due

    def put(self, key: str, value: V | Negative, version: int) -> bool:
        """Store unless an invalidation blocks this version; evicts the least recent."""
        if self._blocked(key, version):
            return False
        now = self._clock()
        self._entries[key] = (now + self._fresh_for, now + self._ttl, value)
        self._entries.move_to_end(key)
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return True

    def invalidate(self, key: str, version: int) -> None:
        """Evict ``key`` and refuse fills below ``version`` for a while."""
        self._entries.pop(key, None)
        now = self._clock()
        current = self._blocks.get(key)
        if current is not None and current[0] > now:
            version = max(version, current[1])
        self._blocks[key] = (now + self._block_ttl, version)
        self._blocks.move_to_end(key)
        if len(self._blocks) > self._max_blocks:
            self._blocks.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def _blocked(self, key: str, version: int) -> bool:
        block = self._blocks.get(key)
        if block is None:
            return False
        expires, floor = block
        if expires <= self._clock():
            del self._blocks[key]
            return False
        return version < floor
