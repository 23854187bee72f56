"""Prometheus metrics of the lookup pipeline, registered on a registry handed in (none at import).

Labels are closed sets (tier, result, kind, state): never an ID or a name.

The counts of every lookup (hits, misses by tier, coalesced keys) are gathered in plain
integers and folded into the collectors once per event-loop tick: a prometheus update
takes a lock, and in multiprocess mode (``--workers N``) writes to a memory-mapped file,
which per L1 hit cost more than the lookup itself. The first count of a tick schedules
:meth:`CacheMetrics.flush` with ``call_soon``, so the collectors are current at the end of
the loop iteration that counted, before the process reads its next request or scrape; a
collect of the registry (a scrape of this process, ``get_sample_value``) flushes first too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric

from cache.breaker import BreakerState

TIERS = ("l1", "redis")
_RESULTS = ("hit", "negative_hit", "miss")


class Tally:
    """The counts of one tier not yet folded: hits, negative hits, misses."""

    __slots__ = ("children", "counts", "tier")

    def __init__(self, tier: str) -> None:
        self.tier = tier
        self.counts = [0, 0, 0]
        self.children: list[Any] = [None, None, None]  # label children, resolved when first used


class _FlushFirst:
    """A collector that yields nothing: registered before the others, it folds the pending
    counts when the registry is collected."""

    def __init__(self, flush: Any) -> None:
        self._flush = flush

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        self._flush()
        return iter(())


_BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
_SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class CacheMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        registry.register(_FlushFirst(self.flush))
        self._tallies = {tier: Tally(tier) for tier in TIERS}
        self._joined = 0
        self._scheduled = False
        self.requests = Counter(
            "verify_cache_requests",
            "Cache lookups by tier and result (hit, negative_hit, miss)",
            ["tier", "result"],
            registry=registry,
        )
        self.coalesced = Counter(
            "verify_cache_coalesced_keys",
            "Keys that joined a lookup already pending or in flight",
            registry=registry,
        )
        self.fills = Counter(
            "verify_cache_fills",
            "Redis fills by outcome (written, refused by the version guard, dropped, failed)",
            ["result"],
            registry=registry,
        )
        self.refresh_failures = Counter(
            "verify_cache_refresh_failures",
            "Keys whose refresh ahead failed (no request waited: the entry is left to expire)",
            registry=registry,
        )
        self.invalidations = Counter(
            "verify_cache_invalidations",
            "Keys invalidated from the change log",
            registry=registry,
        )
        self.bypassed = Counter(
            "verify_cache_bypassed",
            "Lookups sent straight to Postgres because the change feed was not live",
            registry=registry,
        )
        self.db_batch = Histogram(
            "verify_db_batch_size",
            "IDs per Postgres lookup query",
            buckets=_BATCH_BUCKETS,
            registry=registry,
        )
        self.db_seconds = Histogram(
            "verify_db_query_seconds",
            "Duration of a Postgres lookup query",
            buckets=_SECONDS_BUCKETS,
            registry=registry,
        )
        self.redis_errors = Counter(
            "verify_redis_errors",
            "Redis calls that failed, by kind (timeout, connection, response, pool, decode)",
            ["kind"],
            registry=registry,
        )
        self.breaker = Gauge(
            "verify_redis_breaker_state",
            "Redis circuit breaker: 0 closed, 1 open, 2 half-open",
            registry=registry,
            multiprocess_mode="livemax",
        )

    def tally(self, tier: str) -> Tally:
        """The counts of ``tier``, for :meth:`count` (resolved once by the caller)."""
        return self._tallies[tier]

    def count(self, tally: Tally, hits: int, negative: int, misses: int) -> None:
        """Lookups of one call on one tier; folded into ``requests`` at the end of the tick."""
        counts = tally.counts
        counts[0] += hits
        counts[1] += negative
        counts[2] += misses
        if not self._scheduled:
            self._schedule()

    def joined(self) -> None:
        """A key joined a lookup already pending or in flight (``coalesced``, per tick)."""
        self._joined += 1
        if not self._scheduled:
            self._schedule()

    def hit(self, tier: str, n: int = 1) -> None:
        self.count(self._tallies[tier], n, 0, 0)

    def negative_hit(self, tier: str, n: int = 1) -> None:
        self.count(self._tallies[tier], 0, n, 0)

    def miss(self, tier: str, n: int = 1) -> None:
        self.count(self._tallies[tier], 0, 0, n)

    def _schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a script, a unit test): no tick to wait for
            self.flush()
            return
        self._scheduled = True
        loop.call_soon(self.flush)

    def flush(self) -> None:
        """Fold the counts gathered since the last flush into the collectors (idempotent)."""
        self._scheduled = False
        for tally in self._tallies.values():
            counts = tally.counts
            if counts[0] or counts[1] or counts[2]:
                tally.counts = [0, 0, 0]
                for i, n in enumerate(counts):
                    if n:
                        child = tally.children[i]
                        if child is None:
                            child = tally.children[i] = self.requests.labels(
                                tally.tier, _RESULTS[i]
                            )
                        child.inc(n)
        if self._joined:
            joined, self._joined = self._joined, 0
            self.coalesced.inc(joined)

    def breaker_changed(self, state: BreakerState) -> None:
        self.breaker.set(int(state))
