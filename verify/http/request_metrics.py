"""The per-request metric updates, gathered in plain Python and folded into the
prometheus collectors once per event-loop tick.

A prometheus update takes a lock, and in multiprocess mode (``--workers N``)
also writes to a memory-mapped file: a request counted directly cost about seven
of them (requests, duration sum and bucket, in-flight up and down, agency,
verdict). Here a request adds one to its bucket (and its seconds to the sum) in the
list of its label set for the tick, found by one dict lookup; the first one of a tick
schedules ``flush`` with ``call_soon``, which folds everything the tick gathered into
the collectors in one update per label set. So the collectors
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

# the label values a finished request is counted under: route template, method, status,
# agency id (None: no key); each such set gathers its requests' duration per bucket, then
# their sum, until the end of the tick
Labels = tuple[str, str, int, str | None]


class _Children:
    """The collector children one label set updates, resolved once per label set."""

    __slots__ = ("agency", "duration", "limited", "requests")

    def __init__(self, requests: Any, duration: Any, agency: Any, limited: Any) -> None:
        self.requests = requests
        self.duration = duration
        self.agency = agency  # None: a request without a key
        self.limited = limited  # rate_limited of the agency, for a 429 of a keyed request


class RequestObserver:
    def __init__(self, metrics: Metrics) -> None:
        self._m = metrics
        self._children: dict[Labels, _Children] = {}
        self._verdicts: dict[tuple[str, str], Any] = {}
        # label set -> per bucket the requests of the tick, then their seconds in all
        self._observed: dict[Labels, list[float]] = {}
        self._verdicts_seen: Counter[tuple[str, str]] = Counter()
        self.in_flight = 0  # requests admitted and not finished, in this process
        self._in_flight_shown = 0
        self._histograms: list[PendingHistogram] = []
        self._gauges: dict[Any, float] = {}  # gauge child -> its latest value, not yet set
        self._scheduled = False
        self._bounds: list[float] = metrics.duration._upper_bounds
        self._width = len(self._bounds)  # buckets, +Inf included

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
        """One finished request, counted in its label set's buckets (folded at tick end)."""
        labels = (route, method, status, agency)
        sums = self._observed.get(labels)
        if sums is None:
            sums = self._observed[labels] = [0.0] * (self._width + 1)
        sums[bisect_left(self._bounds, elapsed)] += 1
        sums[-1] += elapsed
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
            observed, self._observed = self._observed, {}
            self._fold(observed)

    def _fold(self, observed: dict[Labels, list[float]]) -> None:
        children = self._children
        for labels, sums in observed.items():
            child = children.get(labels)
            if child is None:
                child = children[labels] = self._resolve(labels)
            n = sum(sums[:-1])  # whole numbers: exact (the sum of seconds is left out)
            child.requests.inc(n)
            observe_many(child.duration, sums)
            if child.agency is not None:
                child.agency.inc(n)
            if child.limited is not None:
                child.limited.inc(n)

    def _resolve(self, labels: Labels) -> _Children:
        route, method, status, agency = labels
        m = self._m
        outcome = outcome_class(status)
        return _Children(
            m.requests.labels(route, method, outcome),
            m.duration.labels(route, outcome),
            None if agency is None else m.agency_requests.labels(agency),
            m.rate_limited.labels(agency) if agency is not None and status == 429 else None,
        )

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
