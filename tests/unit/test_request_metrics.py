"""Per-request metrics gathered in process and folded into prometheus once per tick."""

from __future__ import annotations

import asyncio
import random

from prometheus_client import CollectorRegistry

from verify.http.request_metrics import RequestObserver, observe_many
from verify.metrics import LATENCY_BUCKETS, Metrics


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample but the creation timestamps (they differ between two registries)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in registry.collect()
        for s in family.samples
        if not s.name.endswith("_created")
    }


def test_observe_many_leaves_what_one_observe_per_value_leaves() -> None:
    rng = random.Random(7)
    values = [rng.choice([0.0, *LATENCY_BUCKETS, 9.0]) for _ in range(200)]
    values += [rng.uniform(0, 6) for _ in range(200)]  # on the bounds, between, beyond
    one, many = Metrics(), Metrics()
    for v in values:
        one.duration.labels("/v1/verify", "2xx").observe(v)
    bounds = many.duration._upper_bounds
    sums = [0.0] * (len(bounds) + 1)
    for v in values:
        sums[next(i for i, b in enumerate(bounds) if v <= b)] += 1
        sums[-1] += v
    observe_many(many.duration.labels("/v1/verify", "2xx"), sums)
    assert _samples(many.registry) == _samples(one.registry)


def _direct(metrics: Metrics, seen: list[tuple[str, str, int, float, str | None]]) -> None:
    """What the middleware used to do per request: one update per collector."""
    for route, method, status, elapsed, agency in seen:
        outcome = "cancelled" if status == 499 else f"{status // 100}xx"
        metrics.requests.labels(route, method, outcome).inc()
        metrics.duration.labels(route, outcome).observe(elapsed)
        if agency is not None:
            metrics.agency_requests.labels(agency).inc()
            if status == 429:
                metrics.rate_limited.labels(agency).inc()


SEEN = [
    ("/v1/verify", "POST", 200, 0.0031, "7"),
    ("/v1/verify", "POST", 200, 0.012, "7"),
    ("/v1/verify", "POST", 429, 0.0004, "7"),
    ("/v1/verify/batch", "POST", 200, 0.3, "9"),
    ("/v1/verify", "POST", 503, 0.0002, None),
    ("/healthz", "GET", 200, 0.0001, None),
    ("/v1/verify", "POST", 499, 1.5, "9"),
]


async def test_a_tick_of_requests_lands_in_the_collectors_at_the_end_of_the_tick() -> None:
    gathered, expected = Metrics(), Metrics()
    observer = RequestObserver(gathered)
    observer.started()
    observer.started()
    for seen in SEEN:
        observer.observe(*seen)
    observer.verdicts("single", "match")
    observer.verdicts("batch_item", "no_match", 4)
    observer.ended()
    assert gathered.registry.get_sample_value(
        "verify_http_requests_total", {"route": "/v1/verify", "method": "POST", "outcome": "2xx"}
    ) is None  # fmt: skip
    await asyncio.sleep(0)  # the flush the first update scheduled runs
    _direct(expected, SEEN)
    expected.verdicts.labels("single", "match").inc()
    expected.verdicts.labels("batch_item", "no_match").inc(4)
    expected.in_flight.set(1)
    assert _samples(gathered.registry) == _samples(expected.registry)


async def test_one_flush_per_tick_and_a_later_tick_adds_to_it() -> None:
    metrics = Metrics()
    observer = RequestObserver(metrics)
    flushes = 0
    real = observer.flush

    def counted() -> None:
        nonlocal flushes
        flushes += 1
        real()

    observer.flush = counted  # type: ignore[method-assign]
    for _ in range(100):
        observer.observe("/v1/verify", "POST", 200, 0.001, "1")
    await asyncio.sleep(0)
    assert flushes == 1
    observer.observe("/v1/verify", "POST", 200, 0.001, "1")
    await asyncio.sleep(0)
    assert flushes == 2
    labels = {"route": "/v1/verify", "method": "POST", "outcome": "2xx"}
    assert metrics.registry.get_sample_value("verify_http_requests_total", labels) == 101


def test_without_a_running_loop_an_update_is_folded_at_once() -> None:
    metrics = Metrics()
    observer = RequestObserver(metrics)
    observer.observe("/v1/verify", "POST", 200, 0.001, None)
    observer.started()
    labels = {"route": "/v1/verify", "method": "POST", "outcome": "2xx"}
    assert metrics.registry.get_sample_value("verify_http_requests_total", labels) == 1
    assert metrics.registry.get_sample_value("verify_http_in_flight_requests") == 1


def test_a_scrape_flush_with_nothing_gathered_changes_nothing() -> None:
    metrics = Metrics()
    before = _samples(metrics.registry)
    RequestObserver(metrics).flush()
    assert _samples(metrics.registry) == before


async def test_admission_histograms_and_gauges_are_folded_at_the_end_of_the_tick() -> None:
    gathered, expected = Metrics(), Metrics()
    observer = RequestObserver(gathered)
    wait = observer.histogram(gathered.queue_wait.labels("interactive"))
    lag = observer.histogram(gathered.loop_lag)
    limit = observer.gauge(gathered.admission_limit)
    for seconds in (0.0004, 0.003, 0.003, 0.7):
        wait(seconds)
        expected.queue_wait.labels("interactive").observe(seconds)
    lag(0.02)
    expected.loop_lag.observe(0.02)
    limit(64)
    limit(40)  # only the tick's last value is set
    expected.admission_limit.set(40)
    assert gathered.registry.get_sample_value("verify_admission_limit") == 0
    await asyncio.sleep(0)
    assert _samples(gathered.registry) == _samples(expected.registry)
    wait(0.001)  # a later tick adds to the histogram
    expected.queue_wait.labels("interactive").observe(0.001)
    await asyncio.sleep(0)
    assert _samples(gathered.registry) == _samples(expected.registry)
