"""The per-request metric updates, gathered in plain Python and folded into the
prometheus collectors once per event-loop tick.

A prometheus update takes a lock, and in multiprocess mode (``--workers N``)
also writes to a memory-mapped file: a request counted directly cost about seven
of them (requests, duration sum and bucket, in-flight up and down, agency,
verdict). Here a request costs an append to a list and an integer; the first
one of a tick schedules ``flush`` with ``call_soon``, which folds everything the
tick gathered into the collectors in one update per label set. So the collectors
are current at the end of the loop iteration in which a request finished, before
the process reads its next request or scrape; ``/metrics`` flushes the scraping
process's own values first all the same (``flush`` is idempotent and cheap).

Label children are resolved once per label set (``labels()`` takes a lock and
validates its arguments every call).
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable
from typing import Any

from verify.metrics import Metrics, outcome_class

# one finished request: route template, method, status, seconds, agency id (None: no key)
Observation = tuple[str, str, int, float, str | None]


class RequestObserver:
    def __init__(self, metrics: Metrics) -> None:
        self._m = metrics
        self._requests: dict[tuple[str, str, str], Any] = {}
        self._durations: dict[tuple[str, str], Any] = {}
        self._agencies: dict[str, Any] = {}
        self._verdicts: dict[tuple[str, str], Any] = {}
        self._observed: list[Observation] = []
        self._verdicts_seen: Counter[tuple[str, str]] = Counter()
        self.in_flight = 0  # requests admitted and not finished, in this process
        self._in_flight_shown = 0
        self._histograms: list[PendingHistogram] = []
        self._gauges: dict[Any, float] = {}  # gauge child -> its latest value, not yet set
        self._scheduled = False
        self._bounds: list[float] = metrics.duration._upper_bounds
        self._outcomes: dict[int, str] = {}  # status -> its outcome label (a few dozen)

    def histogram(self, child: Any) -> Callable[[float], None]:
        """``observe`` for an (unlabelled or labelled) histogram child, folded per tick."""
        pending = PendingHistogram(child)
        self._histograms.append(pending)

        def observe(value: float) -> None:
            pending.observe(value)
            self._schedule()

        return observe

    def gauge(self, child: Any) -> Callable[[float], None]:
        """``set`` for a gauge child: its last value of the tick is set at the end of it."""

        def set_value(value: float) -> None:
            self._gauges[child] = value
            self._schedule()

        return set_value

    def started(self) -> None:
        self.in_flight += 1
        if not self._scheduled:
            self._schedule()

    def ended(self) -> None:
        self.in_flight -= 1
        if not self._scheduled:
            self._schedule()

    def observe(
        self, route: str, method: str, status: int, elapsed: float, agency: str | None
    ) -> None:
        self._observed.append((route, method, status, elapsed, agency))
        if not self._scheduled:
            self._schedule()

    def verdicts(self, kind: str, verdict: str, n: int = 1) -> None:
        """Count ``n`` answers of ``kind`` (single, batch_item, stream) with ``verdict``."""
        self._verdicts_seen[kind, verdict] += n
        if not self._scheduled:
            self._schedule()

    def _schedule(self) -> None:
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a script, a unit test): no tick to wait for
            self.flush()
            return
        self._scheduled = True
        loop.call_soon(self.flush)

    def flush(self) -> None:
        """Fold what was gathered since the last flush into the prometheus collectors."""
        self._scheduled = False
        if self._gauges:
            gauges, self._gauges = self._gauges, {}
            for child, value in gauges.items():
                child.set(value)
        for pending in self._histograms:
            pending.flush()
        if self.in_flight != self._in_flight_shown:
            self._in_flight_shown = self.in_flight
            self._m.in_flight.set(self.in_flight)
        if self._verdicts_seen:
            seen, self._verdicts_seen = self._verdicts_seen, Counter()
            for key, n in seen.items():
                self._verdict_child(key).inc(n)
        if self._observed:
            observed, self._observed = self._observed, []
            self._fold(observed)

    def _fold(self, observed: list[Observation]) -> None:
        requests: dict[tuple[str, str, str], int] = {}
        agencies: dict[str, int] = {}
        limited: dict[str, int] = {}
        durations: dict[tuple[str, str], list[float]] = {}
        bounds = self._bounds
        width = len(bounds)  # buckets, +Inf included
        outcomes = self._outcomes
        for route, method, status, elapsed, agency in observed:
            outcome = outcomes.get(status)
            if outcome is None:
                outcome = outcomes[status] = outcome_class(status)
            key = (route, method, outcome)
            requests[key] = requests.get(key, 0) + 1
            sums = durations.get((route, outcome))
            if sums is None:
                sums = durations[route, outcome] = [0.0] * (width + 1)  # buckets, then the sum
            sums[bisect_left(bounds, elapsed)] += 1
            sums[width] += elapsed
            if agency is not None:
                agencies[agency] = agencies.get(agency, 0) + 1
                if status == 429:
                    limited[agency] = limited.get(agency, 0) + 1
        for key, n in requests.items():
            self._request_child(key).inc(n)
        for pair, sums in durations.items():
            observe_many(self._duration_child(pair), sums)
        for agency, n in agencies.items():
            self._agency_child(agency).inc(n)
        for agency, n in limited.items():
            self._m.rate_limited.labels(agency).inc(n)

    def _request_child(self, key: tuple[str, str, str]) -> Any:
        child = self._requests.get(key)
        if child is None:
            child = self._requests[key] = self._m.requests.labels(*key)
        return child

    def _duration_child(self, key: tuple[str, str]) -> Any:
        child = self._durations.get(key)
        if child is None:
            child = self._durations[key] = self._m.duration.labels(*key)
        return child

    def _agency_child(self, agency: str) -> Any:
        child = self._agencies.get(agency)
        if child is None:
            child = self._agencies[agency] = self._m.agency_requests.labels(agency)
        return child

    def _verdict_child(self, key: tuple[str, str]) -> Any:
        child = self._verdicts.get(key)
        if child is None:
            child = self._verdicts[key] = self._m.verdicts.labels(*key)
        return child


class PendingHistogram:
    """Observations of one histogram child, counted per bucket until the next flush."""

    __slots__ = ("_bounds", "_child", "_sums")

    def __init__(self, child: Any) -> None:
        self._child = child
        self._bounds: list[float] = child._upper_bounds
        self._sums: list[float] | None = None

    def observe(self, value: float) -> None:
        sums = self._sums
        if sums is None:
            sums = self._sums = [0.0] * (len(self._bounds) + 1)
        sums[bisect_left(self._bounds, value)] += 1
        sums[-1] += value

    def flush(self) -> None:
        if self._sums is not None:
            sums, self._sums = self._sums, None
            observe_many(self._child, sums)


def observe_many(histogram: Any, sums: list[float]) -> None:
    """What ``observe`` once per value would leave in a histogram child: ``sums`` holds
    the count of values per bucket (prometheus-client stores them per bucket, not
    cumulated; ``bisect_left`` on the bounds is its ``value <= bound`` test), then their sum.
    prometheus-client has no public call for this; tests/unit/test_request_metrics.py
    checks it against ``observe`` on the pinned version."""
    buckets = histogram._buckets
    for i, n in enumerate(sums[:-1]):
        if n:
            buckets[i].inc(n)
    histogram._sum.inc(sums[-1])
