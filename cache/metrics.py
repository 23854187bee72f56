"""Prometheus metrics of the lookup pipeline, registered on a registry handed in (none at import).

Labels are closed sets (tier, result, kind, state): never an ID or a name.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from cache.breaker import BreakerState

_BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
_SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class CacheMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
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

    def hit(self, tier: str, n: int = 1) -> None:
        if n:
            self.requests.labels(tier, "hit").inc(n)

    def negative_hit(self, tier: str, n: int = 1) -> None:
        if n:
            self.requests.labels(tier, "negative_hit").inc(n)

    def miss(self, tier: str, n: int = 1) -> None:
        if n:
            self.requests.labels(tier, "miss").inc(n)

    def breaker_changed(self, state: BreakerState) -> None:
        self.breaker.set(int(state))
