"""The cache's lookup counts are folded into the collectors once per tick, and on a collect."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from cache.metrics import CacheMetrics

REQUESTS = "verify_cache_requests_total"


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


async def test_counts_reach_the_collectors_at_the_end_of_the_tick() -> None:
    registry = CollectorRegistry()
    metrics = CacheMetrics(registry)
    l1, redis = metrics.tally("l1"), metrics.tally("redis")
    for _ in range(3):
        metrics.count(l1, 2, 1, 0)
    metrics.count(redis, 0, 0, 4)
    metrics.joined()
    assert metrics.requests.labels("l1", "hit")._value.get() == 0  # not yet: one fold a tick
    await asyncio.sleep(0)
    assert metrics.requests.labels("l1", "hit")._value.get() == 6
    assert sample(registry, REQUESTS, tier="l1", result="negative_hit") == 3
    assert sample(registry, REQUESTS, tier="redis", result="miss") == 4
    assert sample(registry, "verify_cache_coalesced_keys_total") == 1
    assert sample(registry, REQUESTS, tier="redis", result="hit") is None  # none counted


async def test_a_collect_folds_the_counts_of_the_current_tick_first() -> None:
    registry = CollectorRegistry()
    metrics = CacheMetrics(registry)
    metrics.count(metrics.tally("l1"), 5, 0, 1)
    assert sample(registry, REQUESTS, tier="l1", result="hit") == 5
    assert sample(registry, REQUESTS, tier="l1", result="miss") == 1
    await asyncio.sleep(0)  # the scheduled fold finds nothing left: counted once
    assert sample(registry, REQUESTS, tier="l1", result="hit") == 5


def test_without_a_loop_counts_are_folded_at_once() -> None:
    registry = CollectorRegistry()
    metrics = CacheMetrics(registry)
    metrics.hit("redis", 2)
    metrics.miss("redis")
    assert metrics.requests.labels("redis", "hit")._value.get() == 2
    assert metrics.requests.labels("redis", "miss")._value.get() == 1
